"""A ``torch.utils.data.Dataset`` over an exported dataset (native format)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from envs.objects.categories import manifest_categories


class RandomizedImageDataset(Dataset):
    """Samples of ``samples.jsonl``: ``(image, label)`` with image a float tensor
    (3, H, W) in [0, 1] and label the sample's JSON record (plus ``depth`` in metres and
    ``instances`` when ``load_masks``); each object of the record gets its ``category_id``.

    ``categories`` lists the export's categories (any names: the manifest's list, in id
    order, id = index + 1), and ``category_ids`` maps each to its id.

    Args:
        root: the export folder.
        load_masks: also load the instance mask (H, W) int64 tensor and depth if exported.
    """

    def __init__(self, root: str | Path, *, load_masks: bool = False) -> None:
        self.root = Path(root)
        index = self.root / "samples.jsonl"
        if not index.exists():
            raise FileNotFoundError(
                f"{str(index)!r} not found: export a dataset first "
                "(python scripts/export_dataset.py --out DIR ...)"
            )
        self.records = [json.loads(line) for line in index.read_text().splitlines() if line]
        self.load_masks = load_masks
        self.category_ids: dict[str, int] = manifest_categories(self.root, self.records)
        self.categories: list[str] = list(self.category_ids)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, Any]]:
        r = dict(self.records[i])
        ids = self.category_ids
        r["objects"] = [{**o, "category_id": ids[o["category"]]} for o in r.get("objects", ())]
        with Image.open(self.root / r["rgb"]) as im:
            rgb = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        image = torch.from_numpy(rgb).permute(2, 0, 1).contiguous()
        if self.load_masks:
            with Image.open(self.root / r["instances"]) as im:
                r["instance_mask"] = torch.from_numpy(np.asarray(im).astype(np.int64))
            if r.get("depth"):
                with Image.open(self.root / r["depth"]) as im:
                    mm = np.asarray(im).astype(np.float32)
                r["depth_m"] = torch.from_numpy(mm / 1000.0)
        return image, r
