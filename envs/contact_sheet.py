"""A contact sheet of an exported dataset: images with instance masks and boxes drawn on."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from envs.labels import CATEGORIES

_COLOURS = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]],
    dtype=np.float32,
)  # fmt: skip


def contact_sheet(root: str | Path, *, num: int = 16, scale: int = 2) -> Image.Image:
    """The first ``num`` samples, each with a translucent mask and a labelled box per object."""
    root = Path(root)
    index = root / "samples.jsonl"
    if not index.exists():
        raise FileNotFoundError(f"{str(index)!r} not found: is {str(root)!r} an exported dataset?")
    lines = index.read_text().splitlines()[:num]
    if not lines:
        raise ValueError(f"{str(index)!r} holds no samples")
    tiles = []
    for line in lines:
        r = json.loads(line)
        rgb = np.asarray(Image.open(root / r["rgb"]).convert("RGB"), dtype=np.float32)
        inst = np.asarray(Image.open(root / r["instances"]))
        for obj in r["objects"]:
            m = inst == obj["instance"]
            colour = _COLOURS[CATEGORIES.index(obj["category"]) % len(_COLOURS)]
            rgb[m] = 0.55 * rgb[m] + 0.45 * colour
        tile = Image.fromarray(rgb.astype(np.uint8)).resize(
            (rgb.shape[1] * scale, rgb.shape[0] * scale), Image.Resampling.NEAREST
        )
        draw = ImageDraw.Draw(tile)
        for obj in r["objects"]:
            if obj["bbox"] is None or obj["category"] == "robot":
                continue
            x, y, w, h = (v * scale for v in obj["bbox"])
            colour = tuple(
                int(c) for c in _COLOURS[CATEGORIES.index(obj["category"]) % len(_COLOURS)]
            )
            draw.rectangle([x, y, x + w - 1, y + h - 1], outline=colour)
        draw.text((2, 2), f"#{r['index']}", fill=(255, 255, 255))
        tiles.append(tile)
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    w, h = tiles[0].size
    sheet = Image.new("RGB", (cols * w, rows * h), (255, 255, 255))
    for i, t in enumerate(tiles):
        sheet.paste(t, ((i % cols) * w, (i // cols) * h))
    return sheet
