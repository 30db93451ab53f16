"""`ExportConfig.env_kwargs` (`export --robot/--object`): another robot and object through
the exporter, recorded in the manifest and checked on resume; refused when the exporter
sets the argument itself or the manifest could not record it."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset

ROOT = Path(__file__).resolve().parents[2]
KWARGS = {"robot": "kuka", "task_kwargs": {"object": "mug"}}


def test_robot_and_object_reach_the_samples_and_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "kuka_mug"
    config = ExportConfig(env_id="domrand/Lift-v0", preset="none", num_images=2, size=32,
                          out=str(out), env_kwargs=KWARGS)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the Kuka's STL fingers get finite label boxes
        export_dataset(config, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["env_kwargs"] == KWARGS
    assert "mug" in manifest["categories"]
    record = json.loads((out / "samples.jsonl").read_text().splitlines()[0])
    assert {o["category"] for o in record["objects"]} >= {"robot", "mug"}
    with pytest.raises(ValueError, match="env_kwargs"):  # another robot is another dataset
        export_dataset(ExportConfig(**{**vars(config), "resume": True,
                                       "env_kwargs": {"robot": "xarm6"}}), progress=False)  # fmt: skip


def test_the_script_flags_build_the_same_export(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "scripts/export_dataset.py", "--env", "domrand/Lift-v0", "--preset",
         "none", "--num-images", "1", "--size", "32", "--out", str(out), "--robot", "kuka",
         "--object", "mug", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text())["env_kwargs"] == KWARGS


@pytest.mark.parametrize(
    ("env_kwargs", "message"),
    [
        ({"image_size": 64}, "env_kwargs may not set image_size: the export sets them"),
        ({"randomization": "tobin"}, "env_kwargs may not set randomization"),
        ({"robot": object()}, "env_kwargs must be JSON data"),
        (["robot", "kuka"], "env_kwargs must be a dict of gym.make arguments"),
    ],
)
def test_bad_env_kwargs_are_refused_before_any_work(tmp_path: Path, env_kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ExportConfig(env_id="domrand/Lift-v0", out=str(tmp_path / "x"), env_kwargs=env_kwargs)
    assert not (tmp_path / "x").exists()
