"""A user task registered as a Gymnasium id works like a built-in one: gym.make, replay,
and the commands' ``--env`` (as ``module:Id``, which imports the module that registers it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from envs.registration import (
    ENV_IDS,
    check_env_id,
    domrand_env_ids,
    register_task,
    state_names,
)
from envs.tasks.base import Task
from tests.envs.tiny_task import ENV_ID, TinyEnv, TinyTask

ROOT = Path(__file__).resolve().parents[2]
MODULE_ID = f"tests.envs.tiny_task:{ENV_ID}"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """A command in a fresh interpreter: only ``module:Id`` can register the user task."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )


def test_the_user_id_is_registered_and_listed() -> None:
    assert gym.spec(ENV_ID).entry_point is TinyEnv
    assert gym.spec(ENV_ID).max_episode_steps == TinyTask.default_max_episode_steps == 20
    ids = domrand_env_ids()
    assert ids[: len(ENV_IDS)] == ENV_IDS and ENV_ID in ids
    assert check_env_id(ENV_ID) == ENV_ID
    assert check_env_id(MODULE_ID) == ENV_ID
    assert state_names(ENV_ID) == TinyTask.state_names
    assert register_task(ENV_ID, TinyTask) is TinyEnv  # registering again changes nothing


def test_the_user_env_steps_and_replays() -> None:
    env = gym.make(ENV_ID)
    obs, info = env.reset(seed=3)
    assert obs.shape == (len(TinyTask.state_names),)
    box = info["randomization"]["task"]
    assert set(box) == {"box.x", "box.y"}
    np.testing.assert_allclose(obs[-3:-1], [box["box.x"], box["box.y"]], atol=1e-6)
    steps = 0
    truncated = terminated = False
    while not (terminated or truncated):
        _, reward, terminated, truncated, step_info = env.step(np.zeros(3, np.float32))
        steps += 1
        assert reward < 0
    assert (steps, truncated, step_info["events"]) == (20, True, ["timeout"])
    again, _ = env.reset(seed=99, options={"randomization": info["randomization"]})
    np.testing.assert_array_equal(again, obs)
    env.close()


def test_gym_make_takes_module_colon_id_too() -> None:
    env = gym.make(MODULE_ID, max_episode_steps=5)
    assert env.unwrapped.task_cls is TinyTask and env.spec.max_episode_steps == 5
    env.close()


def test_a_task_missing_parts_is_refused_naming_them() -> None:
    class Half(Task):
        name = "half"
        uses_gripper = False

        def is_success(self) -> bool:
            return False

    with pytest.raises(TypeError) as err:
        register_task("user/Half-v0", Half)
    text = str(err.value)
    assert text.startswith("user/Half-v0: Half does not define default_max_episode_steps, ")
    for part in ("state_names", "apply_state()", "dense_reward()", "observation()",
                 "privileged_state()", "sample_state()", "state_space()", "docs/TASKS.md"):  # fmt: skip
        assert part in text
    assert "user/Half-v0" not in gym.registry


@pytest.mark.parametrize(
    ("task", "env_id", "message"),
    [
        (dict, "user/X-v0", "expects a subclass of envs.tasks.base.Task"),
        (TinyTask, "tests.envs.tiny_task:user/X-v0", "no ':'"),
    ],
)
def test_bad_registrations_are_refused(task: type, env_id: str, message: str) -> None:
    with pytest.raises((TypeError, ValueError), match=message):
        register_task(env_id, task)


@pytest.mark.parametrize(
    ("env_id", "message"),
    [
        ("user/Nope-v0", "unknown env 'user/Nope-v0'; registered domrand-compatible ids: "
         "{ids}; pass module:Id to import the module that registers it"),
        ("CartPole-v1", "env 'CartPole-v1' is registered but is not a domrand env"),
        ("no_such_module:user/Tiny-v0", "cannot import module 'no_such_module' of env "
         "'no_such_module:user/Tiny-v0': ModuleNotFoundError"),
        ("tests.envs.tiny_task:user/Other-v0", "module 'tests.envs.tiny_task' was imported but "
         "registers no env 'user/Other-v0'"),
    ],
)  # fmt: skip
def test_check_env_id_says_what_is_wrong(env_id: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        check_env_id(env_id)
    assert str(err.value).startswith(message.format(ids=", ".join(domrand_env_ids())))
    assert ENV_ID in domrand_env_ids()


def test_rollout_runs_the_user_task_by_module_id() -> None:
    proc = _run("scripts/rollout.py", "--env", MODULE_ID, "--policy", "random",
                "--episodes", "2", "--json", "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (summary["env_id"], summary["episodes"], summary["mean_length"]) == (ENV_ID, 2, 20.0)
    assert summary["event_counts"]["timeout"] == 2


def test_export_writes_the_user_task(tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    proc = _run("scripts/export_dataset.py", "--env", MODULE_ID, "--preset", "tobin",
                "--num-images", "2", "--size", "32", "--out", str(out), "--no-progress")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["env_id"], manifest["num_images"]) == (ENV_ID, 2)
    labels = [json.loads((out / "labels" / f"{i:06d}.json").read_text()) for i in range(2)]
    boxes = [[o for o in label["objects"] if o["name"] == "box"] for label in labels]
    assert [len(b) for b in boxes] == [1, 1]
    assert sorted(p.name for p in (out / "rgb").iterdir()) == ["000000.png", "000001.png"]


def test_an_unknown_env_ends_the_command_with_one_line() -> None:
    proc = _run("scripts/rollout.py", "--env", "user/Nope-v0", "--policy", "random")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: unknown env 'user/Nope-v0'; registered domrand-compatible ids: "
        f"{', '.join(ENV_IDS)}; pass module:Id to import the module that registers it"
    )


def test_docs_tasks_prints_the_tested_example() -> None:
    doc = (ROOT / "docs" / "TASKS.md").read_text(encoding="utf-8")
    example = doc.split("## A complete example", 1)[1].split("```python\n", 1)[1]
    module = (ROOT / "tests" / "envs" / "tiny_task.py").read_text(encoding="utf-8")
    assert example.split("```", 1)[0] == module[module.index("\nfrom __future__ import") + 1 :]
    assert "(docs/TASKS.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
