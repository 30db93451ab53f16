"""Apply a trained translator to an exported dataset, and measure that it kept geometry.

:func:`translate_export` writes a copy of an export whose RGB images are translated and
whose labels are untouched (hard links where the file system allows): a train-time
augmentation that any training command reads like any other export.
:func:`geometry_report` checks the premise that labels stay valid: the object's projected
centre, found by a localizer in the render and in its translation, must not move, and the
localizer's segmentation of the object must still overlap the true mask.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from agents.gan.translator import Translator
from agents.perception.localizer import Localizer, to_input
from agents.perception.pose_data import PoseData, load_object_masks

_OWN = ("rgb", "manifest.json", "samples.jsonl", "preview.png")  # written here (preview: none)


def _link_tree(src: Path, dst: Path, skip: tuple[str, ...] = ()) -> None:
    """Hard-link (or copy, across devices) every file of ``src`` into ``dst``, except the
    top-level entries named in ``skip``."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.parts[0] in skip:
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:
            shutil.copy2(path, target)


def translate_export(translator: Translator, source: str | Path, out: str | Path, *,
                     checkpoint: str = "", progress: bool = True) -> Path:  # fmt: skip
    """Write ``out``: ``source`` with every ``rgb/`` image translated, everything else the
    same; built in ``out.partial`` and renamed when whole, so a killed run leaves nothing
    that looks finished."""
    source, out = Path(source), Path(out)
    manifest_path = source / "manifest.json"
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{str(manifest_path)!r} not found: --data must be an export "
                                f"folder (scripts/export_dataset.py --out)")  # fmt: skip
    if out.exists():
        raise ValueError(f"{str(out)!r} already exists; choose a new folder")
    manifest = json.loads(manifest_path.read_text())
    size = translator.config.size
    if manifest.get("size") not in (None, size):
        raise ValueError(f"{str(source)!r} holds {manifest.get('size')} px images; the "
                         f"translator works at {size} px")  # fmt: skip
    paths = sorted((source / "rgb").rglob("*.png"))
    if not paths:
        raise FileNotFoundError(f"{str(source / 'rgb')!r} holds no PNG images to translate")
    with Image.open(paths[0]) as im:
        if im.size != (size, size):
            raise ValueError(f"{str(paths[0])!r} is {im.size[0]}x{im.size[1]} px; the "
                             f"translator works at {size}x{size} px")  # fmt: skip
    partial = out.with_name(out.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    _link_tree(source, partial, skip=_OWN)
    shutil.copy2(source / "samples.jsonl", partial / "samples.jsonl")
    manifest["translation"] = {"checkpoint": checkpoint, "source": str(source),
                               "frames": translator.meta.get("frames"),
                               "num_frames": translator.meta.get("num_frames")}  # fmt: skip
    (partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for i in tqdm(range(0, len(paths), 256), desc="translate", unit="batch", disable=not progress):
        chunk = paths[i : i + 256]
        images = []
        for p in chunk:
            with Image.open(p) as im:
                images.append(np.asarray(im.convert("RGB")))
        for p, image in zip(chunk, translator(np.stack(images)), strict=True):
            target = partial / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(target)
    partial.rename(out)
    return out


@torch.no_grad()
def geometry_report(loc: Localizer, data: PoseData, translated: np.ndarray,
                    object_name: str = "cube") -> dict[str, Any]:  # fmt: skip
    """How far a localizer's answer moves between renders (``data``) and their
    translations (uint8 N, H, W, 3): centre shift in px (over the images where the render's
    answer is within 2 px of the truth), error against the true centre on both, and the IoU
    of the localizer's object mask with the true mask on both (when it has a mask head)."""
    trans = torch.from_numpy(np.ascontiguousarray(translated)).permute(0, 3, 1, 2)
    if trans.shape != data.images.shape:
        raise ValueError(f"translated images {tuple(trans.shape)} do not match the export's "
                         f"{tuple(data.images.shape)}")  # fmt: skip
    if data.pixels is None:
        raise ValueError(f"{data.root!r} has no projected centres of {object_name!r}")
    size = data.images.shape[-1]
    truth = (data.pixels.numpy() + 1.0) * size / 2.0
    before, after = loc.pixels(data.images), loc.pixels(trans)
    err_before = np.linalg.norm(before - truth, axis=1)
    err_after = np.linalg.norm(after - truth, axis=1)
    good = err_before < 2.0
    shift = np.linalg.norm(after - before, axis=1)[good]
    report: dict[str, Any] = {
        "n": len(data), "n_found": int(good.sum()),
        "centre_shift_px_median": float(np.median(shift)) if len(shift) else float("nan"),
        "centre_shift_px_mean": float(shift.mean()) if len(shift) else float("nan"),
        "centre_shift_px_p90": float(np.quantile(shift, 0.9)) if len(shift) else float("nan"),
        "error_px_render_median": float(np.median(err_before)),
        "error_px_translated_median": float(np.median(err_after)),
        "found_render": float(good.mean()), "found_translated": float((err_after < 2.0).mean()),
    }  # fmt: skip
    if loc.config.mask_weight > 0:
        masks = load_object_masks(data, object_name)
        for key, images in (("render", data.images), ("translated", trans)):
            report[f"mask_iou_{key}"] = _mask_iou(loc, images, masks)
    return report


def _mask_iou(loc: Localizer, images: torch.Tensor, masks: torch.Tensor) -> float:
    """Mean IoU of the localizer's object segmentation (logit > 0, upsampled) with ``masks``
    over the images where the object is visible."""
    loc.model.eval()
    ious = []
    for i in range(0, len(images), 256):
        logits = loc.model.outputs(to_input(images[i : i + 256]))[:, 1:2]
        pred = F.interpolate(logits, size=masks.shape[-2:], mode="bilinear")[:, 0] > 0
        m = masks[i : i + 256]
        inter, union = (pred & m).sum((1, 2)).float(), (pred | m).sum((1, 2)).float()
        ious.append((inter / union.clamp(min=1))[m.any((1, 2))])
    return float(torch.cat(ious).mean())


__all__ = ["geometry_report", "translate_export"]
