"""Steps before each capture: random actions from their own stream, a policy from the factory
export_dataset is given, step counts drawn per sample."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.policies.experts import make_expert
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from tests.envs.test_export_support import export_small, run_script, tree


def test_a_step_range_draws_a_count_per_sample_reproducibly(tmp_path) -> None:
    def cube_x(out: Path) -> list[float]:
        rows = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
        return [next(o for o in r["objects"] if o["name"] == "cube")["world_pose"]["position"][0]
                for r in rows]  # fmt: skip

    config = ExportConfig(num_images=6, size=16, steps=0, max_steps=40, policy="expert",
                          seed=3, visibility=False, out=str(tmp_path / "a"))  # fmt: skip
    a = export_dataset(config, progress=False, policy_factory=make_expert)
    b = export_dataset(replace(config, out=str(tmp_path / "b")), progress=False,
                       policy_factory=make_expert)  # fmt: skip
    assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
    assert json.loads((a / "manifest.json").read_text())["max_steps"] == 40
    fixed = export_dataset(replace(config, max_steps=None, out=str(tmp_path / "c")),
                           progress=False, policy_factory=make_expert)  # fmt: skip
    pushed = np.abs(np.subtract(cube_x(a), cube_x(fixed))) > 1e-3  # same scenes, 0 steps
    assert 0 < pushed.sum() < 6  # some samples were captured mid-push, some before contact


def test_expert_steps_before_capture_move_the_robot(tmp_path) -> None:
    still = export_dataset(
        ExportConfig(num_images=2, size=32, out=str(tmp_path / "a")), progress=False
    )
    moved = export_dataset(
        ExportConfig(num_images=2, size=32, out=str(tmp_path / "b"), steps=6, policy="expert"),
        progress=False,
        policy_factory=make_expert,
    )
    a = json.loads((still / "labels" / "000000.json").read_text())
    b = json.loads((moved / "labels" / "000000.json").read_text())
    ra = next(o for o in a["objects"] if o["name"] == "robot")
    rb = next(o for o in b["objects"] if o["name"] == "robot")
    assert ra["bbox"] != rb["bbox"]


def test_random_steps_draw_from_their_own_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envs.panda_env import PandaTaskEnv

    firsts: list[tuple[float, float]] = []
    real_step = PandaTaskEnv.step

    def step(self: Any, action: Any) -> Any:
        if self.elapsed_steps == 0:
            firsts.append((float(self.privileged_state()["object_pos"][0]), float(action[0])))
        return real_step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", step)
    export_small(tmp_path / "c", num_images=40, size=16, steps=1, visibility=False, preset="none")
    cube_x, action_x = np.asarray(firsts).T
    assert len(firsts) == 40 and abs(np.corrcoef(cube_x, action_x)[0, 1]) < 0.5
    monkeypatch.undo()
    a = export_small(tmp_path / "a", num_images=3, steps=2)
    b = export_small(tmp_path / "b", num_images=3, steps=2, workers=2)
    assert tree(a) == tree(b)  # the same seed still gives the same bytes


CALLS: list[str] = []  # env ids the factory was called with (in this process)
UP = np.array([0.0, 0.0, 1.0], dtype=np.float32)  # the gripper straight up at full speed


class _Up:
    """A policy that always lifts the gripper, counting its calls."""

    calls = 0

    def __call__(self, state: Any) -> np.ndarray:
        _Up.calls += 1
        assert "ee_pos" in state  # called on the privileged state
        return UP


def lift(env_id: str) -> _Up:
    """A module-level (picklable) policy factory."""
    CALLS.append(env_id)
    return _Up()


def _robot_box(out: Path, index: int) -> list[int]:
    record = json.loads((out / "labels" / f"{index:06d}.json").read_text())
    return next(o for o in record["objects"] if o["name"] == "robot")["bbox"]


def test_the_policy_factory_acts_before_each_capture(tmp_path: Path) -> None:
    """One policy per sample from the factory, called on every step; in pool workers too."""
    CALLS.clear()
    _Up.calls = 0
    settings = {"num_images": 3, "size": 32, "steps": 4, "visibility": False, "preset": "none"}
    one = export_dataset(ExportConfig(**settings, policy="lift", out=str(tmp_path / "a")),
                         progress=False, policy_factory=lift)  # fmt: skip
    assert CALLS == ["domrand/Push-v0"] * 3 and _Up.calls == 3 * 4
    assert json.loads((one / "manifest.json").read_text())["policy"] == "lift"
    two = export_dataset(ExportConfig(**settings, policy="lift", workers=2,
                                      out=str(tmp_path / "b")),
                         progress=False, policy_factory=lift)  # fmt: skip
    assert tree(one) == tree(two)  # the factory reached the pool workers
    rand = export_small(tmp_path / "r", **settings)
    still = export_small(tmp_path / "s", **{**settings, "steps": 0})
    for i in range(3):
        lifted, randomly, idle = _robot_box(one, i), _robot_box(rand, i), _robot_box(still, i)
        assert lifted != randomly and lifted != idle  # the arm moved, not as at random


def test_a_named_policy_needs_a_factory(tmp_path: Path) -> None:
    out = tmp_path / "never"
    with pytest.raises(ValueError, match=r"pass policy_factory=agents\.policies\.experts\."
                       "make_expert to export_dataset"):  # fmt: skip
        export_dataset(ExportConfig(num_images=1, size=16, steps=2, policy="expert",
                                    out=str(out)), progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="policy 'mine' needs a policy_factory"):
        export_dataset(ExportConfig(num_images=1, size=16, policy="mine", out=str(out)),
                       progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="but policy is 'random'"):
        export_dataset(ExportConfig(num_images=1, size=16, out=str(out)), progress=False,
                       policy_factory=lift)  # fmt: skip
    with pytest.raises(ValueError, match="cannot be pickled"):
        export_dataset(ExportConfig(num_images=2, size=16, policy="up", workers=2,
                                    out=str(out)),
                       progress=False, policy_factory=lambda env_id: _Up())  # fmt: skip
    with pytest.raises(ValueError, match="policy must be a name"):
        ExportConfig(policy="")
    assert not out.exists()


def test_the_script_passes_the_expert_factory(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "e"
    code, err = run_script(["--out", str(out), "--num-images", "2", "--size", "16", "--steps",
                            "3", "--policy", "expert", "--preset", "none"], capsys)  # fmt: skip
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["policy"] == "expert"
    idle = export_small(tmp_path / "i", num_images=2, size=16, preset="none")
    assert _robot_box(out, 0) != _robot_box(idle, 0)  # the expert moved the arm
