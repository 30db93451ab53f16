"""The Rerun viewer: rollouts and exports written to an .rrd file and read back with Rerun's
own API (``rerun.dataframe``), and the command-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from agents.cli.preview import main as preview_main
from agents.cli.rollout import main as rollout_main
from agents.rollout import RolloutConfig, run_rollouts

rr = pytest.importorskip("rerun", reason="rerun-sdk not installed: pip install -e '.[viz]'")
from rerun import dataframe  # noqa: E402

from agents.viz.rerun_log import RerunLogger, open_recording  # noqa: E402

SCENE = {"/world", "/world/camera", "/world/camera/rgb", "/world/camera/depth",
         "/world/camera/instances", "/world/camera/boxes", "/world/objects/cube",
         "/world/objects/robot", "/episode/params"}  # fmt: skip
ROLLOUT = SCENE | {"/events", "/world/boxes", "/world/robot/ee", "/reward", "/return", "/action/dx",
                   "/action/gripper"}  # fmt: skip


def _entities(path: Path) -> set[str]:
    schema = dataframe.load_recording(str(path)).schema()
    return {c.entity_path for c in schema.component_columns()}


def _rows(path: Path, entity: str) -> int:
    view = dataframe.load_recording(str(path)).view(index="frame", contents=entity)
    return int(view.select().read_all().num_rows)


def test_rollout_rrd_holds_every_entity_and_changes_no_episode(tmp_path: Path) -> None:
    config = RolloutConfig(env_id="domrand/Lift-v0", episodes=2, image_size=32,
                           env_kwargs={"randomization": "tobin"})  # fmt: skip
    _, plain_results = run_rollouts(config, progress=False)
    rrd = tmp_path / "lift.rrd"
    rec = open_recording(save=str(rrd))
    _, results = run_rollouts(config, progress=False, on_step=RerunLogger(rec, config.env_id))
    rec.flush()
    assert [(r.seed, r.length, r.episode_return) for r in results] == [
        (r.seed, r.length, r.episode_return) for r in plain_results
    ]  # logging renders extra frames but leaves the episodes alone
    assert ROLLOUT <= _entities(rrd)
    steps = sum(r.length for r in results)
    assert _rows(rrd, "/reward") == steps
    assert _rows(rrd, "/world/camera/rgb") == steps + len(results)  # every reset, every step
    assert _rows(rrd, "/world") == steps + len(results)  # instance names follow the distractors
    schema = dataframe.load_recording(str(rrd)).schema()
    components = {(c.entity_path, c.component) for c in schema.component_columns()}
    assert ("/world/camera", "Pinhole:image_from_camera") in components
    assert ("/world/camera", "Transform3D:mat3x3") in components
    assert ("/world/boxes", "Boxes3D:half_sizes") in components
    assert {c.name for c in schema.index_columns()} >= {"frame", "episode", "step"}


def test_cli_saves_rrd_and_refuses_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rrd = tmp_path / "reach.rrd"
    base = ["--env", "domrand/Reach-v0", "--episodes", "1", "--image-size", "32", "--no-progress"]
    assert rollout_main([*base, "--rerun-save", str(rrd)]) == 0
    assert {"/world/camera/rgb", "/reward", "/episode/params"} <= _entities(rrd)
    capsys.readouterr()
    assert rollout_main([*base, "--rerun-save", str(tmp_path / "x.txt")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: --rerun-save must end in .rrd, got {str(tmp_path / 'x.txt')!r}"
    )
    assert rollout_main([*base, "--episodes", "2", "--num-envs", "2", "--rerun-save",
                         str(rrd)]) == 2  # fmt: skip
    assert "drop --num-envs" in capsys.readouterr().err


def test_missing_extra_names_the_install_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "rerun", None)
    code = rollout_main(["--env", "domrand/Reach-v0", "--episodes", "1", "--rerun-save",
                         str(tmp_path / "a.rrd"), "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.strip() == "error: the Rerun viewer needs rerun-sdk 0.26.2; install it with: pip install 'domrand[viz]'"


def test_preview_logs_an_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from envs.dataset.config import ExportConfig
    from envs.dataset.export import export_dataset

    out = tmp_path / "exp"
    export_dataset(ExportConfig(env_id="domrand/Lift-v0", preset="tobin", num_images=2, size=32,
                                out=str(out), depth=True), progress=False)  # fmt: skip
    rrd = tmp_path / "exp.rrd"
    assert preview_main(["--dataset", str(out), "--num", "5", "--rerun-save", str(rrd)]) == 0
    assert capsys.readouterr().out.strip() == f"logged 2 samples of {out} to {rrd}"
    assert SCENE | {"/world/camera/boxes3d"} <= _entities(rrd)
    assert _rows(rrd, "/world/camera/depth") == 2
    assert preview_main(["--rerun-save", str(rrd)]) == 2
    assert "give --dataset DIR" in capsys.readouterr().err
