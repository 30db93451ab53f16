"""The ids are registered by installing the package, with no import of ours."""

from __future__ import annotations

import json
import subprocess
import sys

import gymnasium as gym

from envs import ENV_IDS
from envs.registration import register_envs


def test_ids_are_the_built_in_tasks() -> None:
    assert ENV_IDS == ("domrand/Reach-v0", "domrand/Push-v0", "domrand/Lift-v0",
                       "domrand/PickPlace-v0", "domrand/Stack-v0")  # fmt: skip


def test_make_works_without_importing_the_package() -> None:
    code = (
        "import json, sys, gymnasium as gym\n"
        "assert 'domrand/Reach-v0' in gym.registry\n"
        "assert 'pybullet' not in sys.modules  # registration itself is lightweight\n"
        "out = {}\n"
        "for i in ('domrand/Reach-v0', 'domrand/Push-v0', 'domrand/Lift-v0'):\n"
        "    e = gym.make(i); out[i] = list(e.action_space.shape); e.close()\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    shapes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert shapes == {"domrand/Reach-v0": [3], "domrand/Push-v0": [3], "domrand/Lift-v0": [4]}


def test_register_is_idempotent() -> None:
    register_envs()
    register_envs()
    assert all(i in gym.registry for i in ENV_IDS)


def test_registered_limits_match_the_tasks(env_id: str) -> None:
    env = gym.make(env_id)
    assert env.spec.max_episode_steps == env.unwrapped.task_cls.default_max_episode_steps
    assert env.unwrapped.max_episode_steps == env.spec.max_episode_steps
    env.close()


def test_make_max_episode_steps_reaches_the_env_and_emits_timeout() -> None:
    import numpy as np

    env = gym.make("domrand/Push-v0", max_episode_steps=4)
    env.reset(seed=0)
    for _ in range(4):
        _, _, term, trunc, info = env.step(np.zeros(3))
    assert trunc and not term and info["events"] == ["timeout"]
    env.close()
