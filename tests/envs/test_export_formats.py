"""What one export holds: labels that match the pixels, COCO and BOP files their tools load,
the torch dataset, deterministic PNGs, and index files written atomically."""

from __future__ import annotations

import json
import resource
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agents.perception.dataset import RandomizedImageDataset
from envs.dataset.config import ExportConfig, ExportError
from envs.dataset.export import export_dataset
from envs.dataset.formats import iter_labels, write_bop, write_coco, write_index
from envs.dataset.png import encode_png
from tests.envs.test_export_support import SIZE, export_small, tree

N = 12


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "push"
    cfg = ExportConfig(num_images=N, size=64, out=str(out), formats=("coco", "bop"), depth=True)
    return export_dataset(cfg, progress=False)


def test_files_and_manifest(exported: Path) -> None:
    assert len(list((exported / "rgb").glob("*.png"))) == N
    assert len((exported / "samples.jsonl").read_text().splitlines()) == N
    manifest = json.loads((exported / "manifest.json").read_text())
    assert manifest["env_id"] == "domrand/Push-v0" and manifest["num_images"] == N
    assert "distractors" in manifest["preset"]["contents"]


def test_labels_match_the_pixels(exported: Path) -> None:
    records = [json.loads(line) for line in (exported / "samples.jsonl").read_text().splitlines()]
    counts: list[int] = []
    for r in records:
        inst = np.asarray(Image.open(exported / r["instances"]))
        depth = np.asarray(Image.open(exported / r["depth"])).astype(float) / 1000.0
        K = np.asarray(r["camera"]["K"])
        for obj in r["objects"]:
            mask = inst == obj["instance"]
            assert mask.sum() == obj["visible_pixels"]
            if obj["bbox"] is None:
                continue
            x, y, w, h = obj["bbox"]
            rows, cols = np.nonzero(mask)
            assert (cols.min(), rows.min(), cols.max() - x + 1, rows.max() - y + 1) == (x, y, w, h)
            assert 0 < obj["visible_fraction"] <= 1.0
            if obj["category"] == "cube" and mask.sum() > 10:
                # the cube centre projects near its mask, and depth agrees with the pose
                p = np.asarray(obj["camera_pose"]["position"])
                u, v = (K @ p)[:2] / p[2]
                assert abs(u - (cols.mean() + 0.5)) < 3 and abs(v - (rows.mean() + 0.5)) < 3
                assert abs(np.median(depth[mask]) - p[2]) < 0.05
        placed = sum(obj["category"] == "distractor" for obj in r["objects"])
        counts.append(r["randomization"]["distractors"]["count"])
        assert counts[-1] == placed  # every placed distractor is labelled, none parked
    assert all(0 <= c <= 10 for c in counts) and len(set(counts)) > 1  # tobin: 0-10, drawn


def test_coco_loads_and_masks_decode_exactly(exported: Path) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    coco = COCO(str(exported / "annotations.json"))
    assert len(coco.getImgIds()) == N
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} >= {"robot", "cube", "goal_region"}
    records = [json.loads(line) for line in (exported / "samples.jsonl").read_text().splitlines()]
    checked = 0
    for ann in coco.loadAnns(coco.getAnnIds()):
        r = records[ann["image_id"] - 1]
        inst = np.asarray(Image.open(exported / r["instances"]))
        obj = next(
            o
            for o in r["objects"]
            if o["bbox"] == ann["bbox"]
            and coco.loadCats(ann["category_id"])[0]["name"] == o["category"]
        )
        decoded = mask_utils.decode(coco.annToRLE(ann)).astype(bool)
        assert np.array_equal(decoded, inst == obj["instance"])
        assert ann["area"] == obj["visible_pixels"]
        checked += 1
    assert checked > N


def test_bop_files(exported: Path) -> None:
    cams = json.loads((exported / "bop" / "scene_camera.json").read_text())
    gt = json.loads((exported / "bop" / "scene_gt.json").read_text())
    info = json.loads((exported / "bop" / "scene_gt_info.json").read_text())
    assert set(cams) == set(gt) == set(info) == {str(i) for i in range(N)}
    first = gt["0"][0]
    assert len(first["cam_R_m2c"]) == 9 and len(first["cam_t_m2c"]) == 3
    R = np.asarray(first["cam_R_m2c"]).reshape(3, 3)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
    assert 200 < first["cam_t_m2c"][2] < 3000  # millimetres
    assert len(cams["0"]["cam_K"]) == 9 and cams["0"]["depth_scale"] == 1.0
    assert all(0 <= e["visib_fract"] <= 1 for e in info["0"])


def test_torch_dataset(exported: Path) -> None:
    ds = RandomizedImageDataset(exported, load_masks=True)
    assert len(ds) == N
    image, label = ds[3]
    assert (
        image.shape == (3, 64, 64) and image.dtype.name == "float32"
        if hasattr(image.dtype, "name")
        else True
    )
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    assert label["index"] == 3 and label["instance_mask"].shape == (64, 64)
    assert float(label["depth_m"].max()) <= 4.0
    with pytest.raises(FileNotFoundError, match="export a dataset first"):
        RandomizedImageDataset(exported / "missing")


def test_projected_centres_lie_in_boxes_of_fully_visible_objects(exported: Path) -> None:
    checked = 0
    for line in (exported / "samples.jsonl").read_text().splitlines():
        r = json.loads(line)
        K = np.asarray(r["camera"]["K"])
        for obj in r["objects"]:
            if obj["category"] == "robot" or obj["bbox"] is None:
                continue
            if obj["visible_fraction"] < 0.95 or obj["visible_pixels"] < 20:
                continue
            p = np.asarray(obj["camera_pose"]["position"])
            u, v = (K @ p)[:2] / p[2]
            x, y, w, h = obj["bbox"]
            assert x - 1 <= u <= x + w + 1 and y - 1 <= v <= y + h + 1, obj["name"]
            checked += 1
    assert checked >= N


def test_png_round_trips_and_is_deterministic() -> None:
    import io

    rng = np.random.default_rng(0)
    for array in (
        rng.integers(0, 256, (17, 9, 3), dtype=np.uint8),
        rng.integers(0, 65536, (5, 7), dtype=np.uint16),
        rng.integers(0, 256, (1, 4), dtype=np.uint8),
    ):
        data = encode_png(array)
        assert data == encode_png(array.copy())
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), array)
        stored = encode_png(array, level=0)  # the same pixels
        assert stored == encode_png(array.copy(), level=0)
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(stored))), array)
    flat = np.zeros((32, 32, 3), dtype=np.uint8)
    assert len(encode_png(flat, level=0)) > 3 * 32 * 32 > 10 * len(encode_png(flat))
    with pytest.raises(ValueError, match=r"zlib level must be 0\.\.9, got 10"):
        encode_png(np.zeros((2, 2), dtype=np.uint8), level=10)
    with pytest.raises(ValueError, match="cannot write a float32 array"):
        encode_png(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="colour PNGs need 3 channels"):
        encode_png(np.zeros((2, 2, 4), dtype=np.uint8))


@pytest.fixture(scope="module")
def with_formats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_small(
        tmp_path_factory.mktemp("formats") / "f", num_images=2, formats=("coco", "bop")
    )


def _write_samples(out: Path) -> None:
    write_index(out, ExportConfig(num_images=2, size=SIZE, out=str(out)))


def _write_coco(out: Path) -> None:
    write_coco(out, list(iter_labels(out, 2)), SIZE)


def _write_bop(out: Path) -> None:
    write_bop(out, list(iter_labels(out, 2)))


WRITERS = {  # file whose size sets the limit, what rewrites it
    "samples.jsonl": ("samples.jsonl", _write_samples),
    "annotations.json": ("annotations.json", _write_coco),
    "bop-scene-json": ("bop/scene_gt_info.json", _write_bop),
    "preview.png": ("preview.png", _write_samples),
}


@pytest.mark.parametrize("target", list(WRITERS))
def test_a_failed_write_keeps_the_previous_file(
    target: str, with_formats: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (``ulimit -f`` below the file's size, or the encoder
    failing after its first bytes): the old bytes stay, no temporary file is left."""
    out = Path(shutil.copytree(with_formats, tmp_path / "f"))
    name, write = WRITERS[target]
    before = tree(out)
    if target == "preview.png":
        from PIL import PngImagePlugin

        def half_written(im: Any, fp: Any, filename: Any, *args: Any) -> None:
            fp.write(b"\x89PNG\r\n\x1a\n")
            raise OSError(27, "File too large")

        monkeypatch.setattr(PngImagePlugin, "_save", half_written)
        monkeypatch.setitem(Image.SAVE, "PNG", half_written)
        with pytest.raises(OSError, match="File too large"):
            write(out)
    else:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, ((out / name).stat().st_size - 1, hard))
        try:
            with pytest.raises(ExportError, match=r"cannot write '.*': File too large"):
                write(out)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert tree(out) == before
