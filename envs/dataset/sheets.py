"""A contact sheet of an exported dataset: images with instance masks and boxes drawn on,
captioned with the sample index and its categories (in their mask colours)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from envs.objects.categories import manifest_categories
from randomizers.image_grid import CaptionItem, image_grid

_COLOURS = np.array(
    [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]],
    dtype=np.float32,
)  # fmt: skip


def _read_image(path: Path, mode: str | None = None) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert(mode) if mode else im)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{str(path)!r} is missing; re-export the dataset or rerun the export with --resume"
        ) from None
    except OSError as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable image ({exc}); rerun the export with --resume"
        ) from None


def _records(root: Path, num: int) -> list[dict[str, Any]]:
    """The first ``num`` records of ``root/samples.jsonl``; errors name the file and line."""
    if not root.exists():
        raise FileNotFoundError(f"dataset folder {str(root)!r} does not exist")
    if not root.is_dir():
        raise FileNotFoundError(f"{str(root)!r} is a file, not an exported dataset folder")
    index = root / "samples.jsonl"
    if not index.exists():
        raise FileNotFoundError(f"{str(index)!r} not found: is {str(root)!r} an exported dataset?")
    records = []
    for lineno, line in enumerate(index.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{str(index)!r} line {lineno} is not valid JSON ({exc.msg}); rerun the export "
                "with --resume to rewrite it"
            ) from None
        if not isinstance(record, dict) or not all(k in record for k in _KEYS):
            raise ValueError(
                f"{str(index)!r} line {lineno}: expected a sample record with keys "
                f"{', '.join(_KEYS)}; rerun the export with --resume to rewrite it"
            )
        records.append(record)
        if len(records) == num:
            break
    if not records:
        raise ValueError(f"{str(index)!r} holds no samples")
    return records


_KEYS = ("index", "rgb", "instances", "objects")


def _caption(record: dict[str, Any], categories: list[str]) -> list[CaptionItem]:
    """The sample's index, then each labelled category with its mask colour (and a count
    when it appears more than once)."""
    counts = Counter(obj["category"] for obj in record["objects"])
    items: list[CaptionItem] = [f"#{record['index']}"]
    for category in categories:  # a fixed order: the same category sits in the same place
        if counts[category]:
            colour = tuple(int(c) for c in _COLOURS[categories.index(category) % len(_COLOURS)])
            label = category if counts[category] == 1 else f"{category} x{counts[category]}"
            items.append((label, colour))  # type: ignore[arg-type]
    return items


def contact_sheet(root: str | Path, *, num: int = 16, scale: int = 2) -> Image.Image:
    """The first ``num`` samples, each with a translucent mask and a box per object in its
    category's colour, captioned with the sample index and the categories it shows."""
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    root = Path(root)
    tiles, captions = [], []
    records = _records(root, num)
    categories = list(manifest_categories(root, records))  # the manifest's order: its ids
    for r in records:
        rgb = _read_image(root / r["rgb"], "RGB").astype(np.float32)
        inst = _read_image(root / r["instances"])
        if inst.shape[:2] != rgb.shape[:2]:
            raise ValueError(
                f"{str(root / r['instances'])!r} is {inst.shape[1]}x{inst.shape[0]} px but "
                f"{str(root / r['rgb'])!r} is {rgb.shape[1]}x{rgb.shape[0]}; rerun the export"
            )
        for obj in r["objects"]:
            m = inst == obj["instance"]
            colour = _COLOURS[categories.index(obj["category"]) % len(_COLOURS)]
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
                int(c) for c in _COLOURS[categories.index(obj["category"]) % len(_COLOURS)]
            )
            draw.rectangle([x, y, x + w - 1, y + h - 1], outline=colour)
        tiles.append(tile)
        captions.append(_caption(r, categories))
    return image_grid(tiles, captions=captions)
