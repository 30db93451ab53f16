"""Rollouts: sharding-independent results, the script's outputs and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from agents.rollout import RolloutConfig, run_rollouts
from agents.video import save_video
from scripts import rollout as rollout_script


def test_one_env_and_two_processes_give_the_same_episodes() -> None:
    cfg = dict(env_id="domrand/Push-v0", episodes=5, policy="random", seed=3)
    s1, r1 = run_rollouts(RolloutConfig(**cfg, num_envs=1), progress=False)
    s2, r2 = run_rollouts(RolloutConfig(**cfg, num_envs=2), progress=False)
    assert [(r.index, r.seed, r.length, r.episode_return, r.events) for r in r1] == [
        (r.index, r.seed, r.length, r.episode_return, r.events) for r in r2
    ]
    assert s1.event_counts == s2.event_counts


def test_random_policy_fails_and_times_out() -> None:
    s, results = run_rollouts(
        RolloutConfig(env_id="domrand/Lift-v0", episodes=3, policy="random"), progress=False
    )
    assert s.success_rate == 0.0
    assert s.event_counts["timeout"] + s.event_counts["object_off_table"] == 3
    assert len({r.seed for r in results}) == 3


def test_script_prints_json_and_writes_a_gif(tmp_path, capsys) -> None:
    video = tmp_path / "reach.gif"
    code = rollout_script.main(
        ["--env", "domrand/Reach-v0", "--episodes", "3", "--policy", "expert", "--json",
         "--video", str(video), "--video-episodes", "1", "--render-size", "64", "--no-progress"]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["episodes"] == 3 and out["success_rate"] == 1.0
    assert set(out["event_counts"]) >= {"success", "timeout", "robot_table_collision"}
    with Image.open(video) as gif:
        assert gif.size == (64, 64) and gif.n_frames > 3


def test_script_table_output(capsys) -> None:
    assert (
        rollout_script.main(["--env", "domrand/Lift-v0", "--episodes", "2", "--no-progress"]) == 0
    )
    out = capsys.readouterr().out
    assert "success rate   1.000" in out and "grasp_success" in out


def test_script_rejects_bad_video_suffix(capsys) -> None:
    assert rollout_script.main(["--episodes", "1", "--video", "out.avi"]) == 2
    assert "must end in .gif or .mp4" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"policy": "ppo"}, "allowed: random, expert"),
        ({"episodes": 0}, "episodes must be >= 1"),
        ({"num_envs": 0}, "num_envs must be >= 1"),
        ({"env_id": "CartPole-v1"}, "no expert for 'CartPole-v1'"),
    ],
)
def test_bad_rollout_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RolloutConfig(**kwargs)


def test_save_video_errors(tmp_path) -> None:
    with pytest.raises(ValueError, match="no frames"):
        save_video([], tmp_path / "a.gif")
    import numpy as np

    with pytest.raises(ValueError, match=r"use \.gif or \.mp4"):
        save_video([np.zeros((4, 4, 3), np.uint8)], tmp_path / "a.webm")


def test_json_output_is_the_only_thing_on_stdout() -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "scripts/rollout.py", "--env", "domrand/Reach-v0", "--episodes", "1",
         "--json", "--no-progress"],
        capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2], check=True,
    )  # fmt: skip
    assert json.loads(proc.stdout)["episodes"] == 1  # no "argv[0]=" from PyBullet's probe
