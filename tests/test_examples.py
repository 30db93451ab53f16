"""Every script in examples/ runs end to end with a tiny budget and prints what it made."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


def _run(script: str, out: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--out", str(out),
                           *args], capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("script", EXAMPLES)
def test_examples_are_short(script: str) -> None:
    assert len((ROOT / "examples" / script).read_text().splitlines()) <= 60


def test_examples_are_the_four_tested_here() -> None:
    assert EXAMPLES == ["calibrated_cameras.py", "custom_randomizer.py", "kuka_lift.py",
                        "own_mesh_object.py"]  # fmt: skip


def test_own_mesh_object_is_labelled_in_coco(tmp_path: Path) -> None:
    out = _run("own_mesh_object.py", tmp_path, "--images", "2")
    assert out["images"] == 2
    assert out["widget_id"] == 6  # after the five fixed categories
    assert out["widget_annotations"] == 2  # the widget is in both images
    coco = json.loads((Path(out["dataset"]) / "annotations.json").read_text())
    assert "widget" in [c["name"] for c in coco["categories"]]
    assert (tmp_path / "widget.obj").read_text().count("\nf ") == 12  # 12 triangles


def test_kuka_lifts_with_the_expert(tmp_path: Path) -> None:
    out = _run("kuka_lift.py", tmp_path, "--episodes", "2")
    assert out["robot"] == "kuka" and out["successes"] == 2
    assert all(n < 100 for n in out["lengths"])  # solved before the time limit
    assert Image.open(out["frame"]).size == (128, 128)


def test_calibrated_and_wrist_cameras_save_both_images(tmp_path: Path) -> None:
    out = _run("calibrated_cameras.py", tmp_path)
    assert out["images"] == {"front": [96, 128, 3], "wrist": [64, 64, 3]}
    assert out["K"] == [[118.0, 0.0, 67.5], [0.0, 114.0, 45.2], [0.0, 0.0, 1.0]]
    assert Image.open(tmp_path / "front.png").size == (128, 96)
    assert Image.open(tmp_path / "wrist.png").size == (64, 64)
    u, v = out["cube_pixel"]
    assert 0 <= u < 128 and 0 <= v < 96
    r, g, b = out["cube_rgb"]  # the calibration's projection of the cube lands on the red cube
    assert r > 2 * g and r > 2 * b


def test_custom_randomizer_replays_exactly(tmp_path: Path) -> None:
    out = _run("custom_randomizer.py", tmp_path)
    assert 0.3 <= out["hue"] <= 0.7
    assert out["same_bytes"] is True
    first = (tmp_path / "first.png").read_bytes()
    assert first == (tmp_path / "replayed.png").read_bytes()
