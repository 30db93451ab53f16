"""Export of several cameras (a view per camera, its K and extrinsics, COCO/BOP images per
view) and of non-square images (--size WxH, --width/--height)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from agents.cli.export import build_parser, size_fields
from envs.camera import CameraConfig
from envs.dataset.config import ExportConfig
from envs.dataset.manifest import build_manifest
from tests.envs.test_export_support import export_small

WRIST = CameraConfig(mount="panda_hand", eye=(0.06, 0.0, 0.0), target=(0.06, 0.0, 0.2),
                     up=(1.0, 0.0, 0.0), fov=80.0)  # fmt: skip
CAMERAS = {"front": CameraConfig(), "wrist": WRIST}


@pytest.fixture(scope="module")
def two_cameras(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cams") / "data"
    return export_small(out, env_id="domrand/Lift-v0", num_images=2, width=40, height=24,
                        cameras=CAMERAS, depth=True, formats=("coco", "bop"))  # fmt: skip


def _labels(out: Path, i: int) -> dict[str, Any]:
    return json.loads((out / "labels" / f"{i:06d}.json").read_text())


def test_every_camera_has_its_images_and_labels(two_cameras: Path) -> None:
    r = _labels(two_cameras, 1)
    assert sorted(r["views"]) == ["front", "wrist"]
    for name, view in r["views"].items():
        assert view["rgb"] == f"rgb/{name}/000001.png"
        assert view["depth"] == f"depth/{name}/000001.png"
        for sub in ("rgb", "instances", "depth"):
            with Image.open(two_cameras / view[sub]) as im:
                assert im.size == (40, 24)
        cam = view["camera"]
        assert (cam["width"], cam["height"]) == (40, 24)
        T = np.asarray(cam["extrinsics"])
        np.testing.assert_allclose(T[:3, :3] @ T[:3, :3].T, np.eye(3), atol=1e-6)
    assert r["views"]["wrist"]["camera"]["mount"] == "panda_hand"
    assert (
        r["views"]["wrist"]["camera"]["extrinsics"] != r["views"]["front"]["camera"]["extrinsics"]
    )
    # the main camera's view is also the record's top level (one-camera readers)
    assert {k: r[k] for k in r["views"]["front"]} == r["views"]["front"]
    robot = next(o for o in r["views"]["wrist"]["objects"] if o["name"] == "robot")
    assert robot["visible_pixels"] > 0  # the fingers in front of the wrist camera


def test_coco_and_bop_have_one_image_per_view(two_cameras: Path) -> None:
    coco = json.loads((two_cameras / "annotations.json").read_text())
    images = {(im["sample"], im["camera"]): im for im in coco["images"]}
    assert sorted(images) == [(0, "front"), (0, "wrist"), (1, "front"), (1, "wrist")]
    assert sorted(im["id"] for im in coco["images"]) == [1, 2, 3, 4]
    assert all((im["width"], im["height"]) == (40, 24) for im in coco["images"])
    assert images[(1, "wrist")]["file_name"] == "rgb/wrist/000001.png"
    cams = json.loads((two_cameras / "bop" / "scene_camera.json").read_text())
    assert sorted(cams) == ["0", "1", "2", "3"]
    r = _labels(two_cameras, 1)
    T = np.asarray(r["views"]["wrist"]["camera"]["extrinsics"])
    wrist = cams[str(images[(1, "wrist")]["id"] - 1)]
    assert wrist["camera"] == "wrist"
    np.testing.assert_allclose(wrist["cam_t_w2c"], T[:3, 3] * 1000.0)
    np.testing.assert_allclose(np.reshape(wrist["cam_K"], (3, 3)),
                               r["views"]["wrist"]["camera"]["K"])  # fmt: skip


def test_resume_redoes_a_sample_missing_one_view(two_cameras: Path, tmp_path: Path) -> None:
    import shutil

    copy = Path(shutil.copytree(two_cameras, tmp_path / "copy"))
    before = (copy / "rgb" / "wrist" / "000000.png").read_bytes()
    (copy / "rgb" / "wrist" / "000000.png").unlink()
    notes: list[str] = []
    config = ExportConfig(env_id="domrand/Lift-v0", num_images=2, size=32, width=40, height=24,
                          cameras=CAMERAS, depth=True, formats=("coco", "bop"), out=str(copy),
                          resume=True)  # fmt: skip
    from envs.dataset.export import export_dataset

    export_dataset(config, progress=False, note=notes.append)
    assert any("redoing 1 damaged sample(s) [0]" in n for n in notes), notes
    assert (copy / "rgb" / "wrist" / "000000.png").read_bytes() == before


def test_non_square_single_camera(tmp_path: Path) -> None:
    out = export_small(tmp_path / "wide", num_images=2, width=48, height=30, formats=("coco",))
    with Image.open(out / "rgb" / "000001.png") as im:
        assert im.size == (48, 30)
    r = _labels(out, 1)
    assert "views" not in r and r["rgb"] == "rgb/000001.png"
    K = np.asarray(r["camera"]["K"])
    assert (K[0, 2], K[1, 2]) == (24.0, 15.0)
    coco = json.loads((out / "annotations.json").read_text())
    assert {(im["width"], im["height"]) for im in coco["images"]} == {(48, 30)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["width"], manifest["height"]) == (48, 30) and "cameras" not in manifest
    again = export_small(out, num_images=2, width=48, height=30, formats=("coco",), resume=True)
    assert again == out  # the finished samples pass the resume check at 48 x 30


def test_default_manifest_has_no_new_keys() -> None:
    """A square one-camera export records exactly the keys it did before (byte-identical
    manifests, and resume of older exports)."""
    manifest = build_manifest(ExportConfig(preset=None))
    assert not {"width", "height", "cameras"} & set(manifest)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [(["--size", "64"], {"size": 64, "width": None, "height": None}),
     (["--size", "80x60"], {"size": 128, "width": 80, "height": 60}),
     (["--size", "64", "--width", "80"], {"size": 64, "width": 80, "height": None}),
     (["--width", "80", "--height", "60"], {"size": 128, "width": 80, "height": 60})],
)  # fmt: skip
def test_cli_sizes(argv: list[str], expected: dict[str, Any]) -> None:
    args = build_parser().parse_args(["--out", "x", *argv])
    assert size_fields(args.size, args.width, args.height) == expected


def test_cli_size_conflict_and_bad_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="not both"):
        size_fields((80, 60), 90, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--out", "x", "--size", "80by60"])
    assert "expected N or WxH" in capsys.readouterr().err


def test_bad_export_cameras() -> None:
    with pytest.raises(TypeError, match=r"must be an envs\.CameraConfig"):
        ExportConfig(cameras={"front": "front"})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match=r"width must be 1\.\.2048"):
        ExportConfig(width=0)
