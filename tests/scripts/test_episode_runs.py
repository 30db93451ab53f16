"""Episodes run by the scripts: random actions independent of the initial state and
deterministic, a dead vector-env worker as one clear error, --num-envs capped without
changing the episodes."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs.panda_env import PandaTaskEnv
from tests.scripts.script_support import PUSH, REACH, call, command_module, one_line_error

# ------------------------------------------------------------ 1. random streams


def _first_actions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float]]:
    """Record (cube x at reset, first action x) of every episode stepped in this process."""
    pairs: list[tuple[float, float]] = []
    step = PandaTaskEnv.step

    def spy(self: PandaTaskEnv, action: Any) -> Any:
        if self.elapsed_steps == 0:
            pairs.append((float(self.privileged_state()["object_pos"][0]), float(action[0])))
        return step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", spy)
    return pairs


def _stop_after_one_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Episodes end after their first step (only first actions matter; keeps it fast)."""
    step = PandaTaskEnv.step

    def short(self: PandaTaskEnv, action: Any) -> Any:
        obs, reward, term, _, info = step(self, action)
        return obs, reward, term, True, info

    monkeypatch.setattr(PandaTaskEnv, "step", short)


def _rollout_pairs() -> None:
    from agents.rollout import RolloutConfig, run_rollouts

    run_rollouts(RolloutConfig(env_id=PUSH, episodes=40, policy="random"), progress=False)


def _failure_predictor_pairs() -> None:
    from agents.failure_predictor import collect_steps

    collect_steps(PUSH, None, "object_off_table", episodes=40, policy="random", progress=False)


def _benchmark_pairs() -> None:
    from envs.benchmark.frames import rollout_trace as _rollout_trace
    from envs.seeding import episode_seed

    env = gym.make(PUSH).unwrapped
    try:
        for i in range(40):
            _rollout_trace(env, 1, episode_seed(0, i))
    finally:
        env.close()


@pytest.mark.parametrize(
    "run", [_rollout_pairs, _failure_predictor_pairs, _benchmark_pairs],
    ids=["rollout", "failure_predictor", "benchmark"],
)  # fmt: skip
def test_random_actions_are_independent_of_the_initial_state(
    run: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    _stop_after_one_step(monkeypatch)
    pairs = _first_actions(monkeypatch)
    run()
    cube_x, action_x = np.array(pairs[:40]).T
    assert len(pairs) >= 40
    assert abs(np.corrcoef(cube_x, action_x)[0, 1]) < 0.5


def test_random_rollouts_stay_deterministic() -> None:
    from agents.rollout import RolloutConfig, run_rollouts

    config = RolloutConfig(env_id=PUSH, episodes=3, policy="random", seed=7)
    (s1, r1), (s2, r2) = (run_rollouts(config, progress=False) for _ in range(2))
    assert [(r.seed, r.episode_return, r.length, r.events) for r in r1] == [
        (r.seed, r.episode_return, r.length, r.events) for r in r2
    ]
    assert {**s1.as_dict(), "seconds": 0, "steps_per_second": 0} == {
        **s2.as_dict(), "seconds": 0, "steps_per_second": 0
    }


# ------------------------------------------------------------ 2. dead vector-env worker


def _die_in_workers(monkeypatch: pytest.MonkeyPatch, how: str, at_step: int = 3) -> None:
    """Worker processes (forked, so they inherit this patch) die at their ``at_step``-th
    env step; the test process itself never does."""
    parent = os.getpid()
    step = PandaTaskEnv.step
    count = {"n": 0}

    def dying(self: PandaTaskEnv, action: Any) -> Any:
        if os.getpid() != parent:
            count["n"] += 1
            if count["n"] == at_step:
                if how == "sigkill":
                    os.kill(os.getpid(), signal.SIGKILL)
                os._exit(1)
        return step(self, action)

    monkeypatch.setattr(PandaTaskEnv, "step", dying)


def _fork_subproc_vec_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import stable_baselines3.common.vec_env as vec_env

    class ForkSubprocVecEnv(vec_env.SubprocVecEnv):
        def __init__(self, env_fns: Any, start_method: str | None = None) -> None:
            super().__init__(env_fns, start_method="fork")

    monkeypatch.setattr(vec_env, "SubprocVecEnv", ForkSubprocVecEnv)


@pytest.mark.parametrize(
    ("script", "how"),
    [("rollout", "exit"), ("rollout", "sigkill"), ("evaluate_policy", "sigkill"),
     ("train_policy", "sigkill")],
    ids=["rollout-exit", "rollout-sigkill", "evaluate_policy-sigkill", "train_policy-sigkill"],
)  # fmt: skip
def test_a_dead_vector_env_worker_is_one_clear_error(
    script: str, how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    module = command_module(script)
    argv = {
        "rollout": ["--env", REACH, "--episodes", "4", "--num-envs", "2", "--policy", "random",
                    "--no-progress"],
        "evaluate_policy": ["--model", "random", "--env", REACH, "--episodes", "4",
                            "--num-envs", "2", "--no-progress"],
        "train_policy": ["--env", REACH, "--algo", "ppo", "--steps", "256", "--num-envs", "2",
                         "--vec-env", "subproc", "--hp", "n_steps=64", "--hp", "batch_size=64",
                         "--out", str(tmp_path / "p.zip"), "--no-tensorboard", "--no-progress"],
    }[script]  # fmt: skip
    if script == "train_policy":
        pytest.importorskip("stable_baselines3")
        _fork_subproc_vec_env(monkeypatch)
    _die_in_workers(monkeypatch, how)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)  # two worker processes on any machine
    assert call(module.main, argv) == 2
    one_line_error(capsys, "a vector-env worker process died (", "--num-envs 1")


# ------------------------------------------------------------ more envs than useful


@pytest.mark.parametrize(
    ("episodes", "cpus", "words"),
    [(2, 4, "--num-envs 500 capped to 2 (2 episodes, 4 CPUs)"),
     (3, 2, "--num-envs 500 capped to 2 (3 episodes, 2 CPUs)")],
    ids=["episodes", "cpus"],
)  # fmt: skip
def test_num_envs_is_capped_and_episodes_do_not_change(
    episodes: int, cpus: int, words: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import agents.rollout
    from agents.rollout import RolloutConfig, run_rollouts
    from scripts import rollout

    make = agents.rollout.make_vector_env

    def capped(config: Any) -> Any:
        assert config.num_envs <= min(episodes, cpus), f"{config.num_envs} env processes"
        return make(config)

    monkeypatch.setattr(agents.rollout, "make_vector_env", capped)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    argv = ["--env", REACH, "--episodes", str(episodes), "--policy", "random", "--json",
            "--no-progress"]  # fmt: skip
    capsys.readouterr()
    assert rollout.main([*argv, "--num-envs", "500"]) == 0
    out, err = capsys.readouterr()
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert len(notes) == 1 and words in notes[0], err
    many = json.loads(out)
    assert rollout.main([*argv, "--num-envs", "1"]) == 0
    one = json.loads(capsys.readouterr().out)
    for key in ("episodes", "success_rate", "mean_return", "std_return", "mean_length",
                "event_counts"):  # fmt: skip
        assert many[key] == one[key], key
    cfg: dict[str, Any] = {"env_id": REACH, "episodes": episodes, "policy": "random", "seed": 3}
    _, r1 = run_rollouts(RolloutConfig(**cfg, num_envs=1), progress=False)
    _, rn = run_rollouts(RolloutConfig(**cfg, num_envs=500), progress=False, note=lambda m: None)
    assert [(r.seed, r.episode_return, r.length, r.params) for r in r1] == [
        (r.seed, r.episode_return, r.length, r.params) for r in rn
    ]
