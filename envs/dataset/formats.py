"""The index files of a finished export: ``samples.jsonl``, COCO ``annotations.json``, the
BOP scene files and the ``preview.png`` contact sheet, all built from the label files.

COCO and BOP have one image per camera view: sample ``i`` of an export with ``n`` cameras
(``views`` in its record, by camera name in sorted order) gives images ``i * n + k``."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from envs.dataset.config import ExportConfig, ExportError
from envs.dataset.layout import dump, make_folder, write_file
from envs.dataset.sheets import contact_sheet
from envs.files import atomic_path
from envs.objects.categories import manifest_categories


def iter_labels(out: Path, n: int) -> Iterator[dict[str, Any]]:
    """Sample records in index order."""
    for i in range(n):
        yield json.loads((out / "labels" / f"{i:06d}.json").read_text())


def _label_text(out: Path, index: int) -> str:
    path = out / "labels" / f"{index:06d}.json"
    try:
        return path.read_text()
    except OSError as exc:
        raise ExportError(
            f"cannot read {str(path)!r}: {exc.strerror or exc}; rerun with --resume"
        ) from None


def write_index(out: Path, config: ExportConfig) -> None:
    """``samples.jsonl`` (one line per sample, index order) and the requested formats."""
    # a label file holds ``dump(record)``: its text is the line, no parse and re-dump;
    # streamed to a temporary file and renamed (never all labels in memory at once)
    path = out / "samples.jsonl"
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            for i in range(config.num_images):
                f.write(_label_text(out, i).strip().encode() + b"\n")
    except OSError as exc:
        raise ExportError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; free space or raise the "
            "file-size limit (ulimit -f), check the folder's permissions, then rerun"
        ) from None
    if config.formats:  # COCO and BOP files are one JSON document each: records in memory
        records = [json.loads(_label_text(out, i)) for i in range(config.num_images)]
        if "coco" in config.formats:
            write_coco(out, records, config.size)
        if "bop" in config.formats:
            write_bop(out, records)
    buffer = io.BytesIO()
    contact_sheet(out, num=min(16, config.num_images)).save(buffer, format="PNG")
    write_file(out / "preview.png", buffer.getvalue())


def camera_views(record: dict[str, Any]) -> list[tuple[int, str | None, dict[str, Any]]]:
    """(image number, camera name, view) of each camera view of a sample record; one view
    (the record itself, no name) for a one-camera export."""
    views = record.get("views")
    if not views:
        return [(record["index"], None, record)]
    n = len(views)
    return [(record["index"] * n + k, name, views[name]) for k, name in enumerate(sorted(views))]


def write_coco(out: Path, records: list[dict[str, Any]], size: int | None = None) -> Path:
    """COCO instances with RLE masks decoded from the exported instance PNGs, one image per
    camera view (its size from the record's camera; ``size`` for records without one)."""
    from pycocotools import mask as mask_utils

    cat_id = manifest_categories(out, records)  # ids as the manifest lists them
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for record in records:
        for number, camera, r in camera_views(record):
            image_id = number + 1
            cam = r.get("camera", {"width": size, "height": size})
            image = {"id": image_id, "file_name": r["rgb"], "width": cam["width"],
                     "height": cam["height"]}  # fmt: skip
            if camera is not None:
                image.update(camera=camera, sample=record["index"])
            images.append(image)
            _coco_annotations(out, r, image_id, cat_id, annotations, mask_utils)
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": "object"} for n, i in cat_id.items()],
    }
    path = out / "annotations.json"
    write_file(path, dump(coco).encode())
    return path


def _coco_annotations(
    out: Path, r: dict[str, Any], image_id: int, cat_id: dict[str, int],
    annotations: list[dict[str, Any]], mask_utils: Any,
) -> None:  # fmt: skip
    """Append the annotations of one camera view ``r`` to ``annotations``."""
    inst = np.asarray(Image.open(out / r["instances"]))
    for obj in r["objects"]:
        m = np.asfortranarray((inst == obj["instance"]).astype(np.uint8))
        if not m.any():
            continue
        rle = mask_utils.encode(m)
        rle["counts"] = rle["counts"].decode("ascii")
        annotations.append({
            "id": len(annotations) + 1, "image_id": image_id,
            "category_id": cat_id[obj["category"]], "bbox": obj["bbox"],
            "area": int(m.sum()), "segmentation": rle, "iscrowd": 0,
        })  # fmt: skip


def write_bop(out: Path, records: list[dict[str, Any]]) -> Path:
    """BOP scene files: scene_camera.json, scene_gt.json, scene_gt_info.json (mm units), one
    image per camera view (several cameras: each with its world-to-camera pose too)."""
    cat_id = manifest_categories(out, records)  # ids as the manifest lists them
    cams: dict[str, Any] = {}
    gts: dict[str, list[dict[str, Any]]] = {}
    infos: dict[str, list[dict[str, Any]]] = {}
    for number, camera, r in (v for record in records for v in camera_views(record)):
        key = str(number)
        K = np.asarray(r["camera"]["K"])
        cams[key] = {"cam_K": K.reshape(-1).tolist(), "depth_scale": 1.0}
        if camera is not None:
            T = np.asarray(r["camera"]["extrinsics"])
            cams[key].update(cam_R_w2c=T[:3, :3].reshape(-1).tolist(),
                             cam_t_w2c=(T[:3, 3] * 1000.0).tolist(), camera=camera)  # fmt: skip
        gts[key], infos[key] = [], []
        for obj in r["objects"]:
            if obj["category"] == "robot":
                continue
            pose = obj["camera_pose"]
            gts[key].append({
                "obj_id": cat_id[obj["category"]],
                "cam_R_m2c": np.asarray(pose["rotation"]).reshape(-1).tolist(),
                "cam_t_m2c": (np.asarray(pose["position"]) * 1000.0).tolist(),
            })  # fmt: skip
            infos[key].append({
                "bbox_visib": obj["bbox"] or [-1, -1, -1, -1],
                "bbox_obj": obj["bbox"] or [-1, -1, -1, -1],
                "px_count_visib": obj["visible_pixels"],
                "px_count_all": obj.get("pixels_alone", obj["visible_pixels"]),
                "visib_fract": obj.get("visible_fraction", 1.0),
            })  # fmt: skip
    folder = out / "bop"
    make_folder(folder)
    for name, data in (("scene_camera", cams), ("scene_gt", gts), ("scene_gt_info", infos)):
        write_file(folder / f"{name}.json", json.dumps(data, indent=1, sort_keys=True).encode())
    return folder
