"""What a second camera costs: RGB steps/s with a front camera, a wrist camera and both,
next to state-only stepping, in the same process and run. The pair's image work (its time
per step beyond physics) is compared with the two single cameras' image work added up."""

from __future__ import annotations

import warnings
from typing import Any, cast

import numpy as np

from envs.benchmark.frames import stepping_seconds
from envs.benchmark.tables import Measurement
from envs.camera import CameraConfig
from envs.panda_env import PandaTaskEnv
from envs.seeding import action_rng

WRIST_LINKS = {"panda": "panda_hand"}  # robot -> the link the wrist camera is mounted on


def camera_pair(size: int, robot: str = "panda") -> dict[str, CameraConfig]:
    """A front camera (the default view) and a wrist camera looking past the fingers."""
    wrist = CameraConfig(mount=WRIST_LINKS[robot], eye=(0.06, 0.0, 0.0), target=(0.06, 0.0, 0.2),
                         up=(1.0, 0.0, 0.0), fov=80.0, width=size, height=size)  # fmt: skip
    return {"front": CameraConfig(width=size, height=size), "wrist": wrist}


def measure_cameras(
    env_id: str, preset: str | None, size: int, *, n_steps: int = 200, repeats: int = 3,
    seed: int = 0,
) -> list[Measurement]:  # fmt: skip
    """Steps/s (best of ``repeats``, interleaved) with no image, each camera alone and
    both; the last row's raw column is the rate the pair would have if its image work
    cost exactly the two single cameras' (so env / raw >= 1 means "no more than two")."""
    import gymnasium as gym

    cams = camera_pair(size)
    setups: dict[str, dict[str, Any]] = {
        "state": {"obs_mode": "state"},
        "front": {"obs_mode": "rgb", "cameras": {"front": cams["front"]}},
        "wrist": {"obs_mode": "rgb", "cameras": {"wrist": cams["wrist"]}},
        "front+wrist": {"obs_mode": "rgb", "cameras": cams},
    }
    envs: dict[str, PandaTaskEnv] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, kwargs in setups.items():
            made = gym.make(env_id, randomization=preset, **kwargs)
            envs[name] = cast(PandaTaskEnv, made.unwrapped)
    shape = envs["state"].action_space.shape or ()
    actions = action_rng(seed).uniform(-1, 1, (n_steps, *shape)).astype(np.float32)
    best = dict.fromkeys(envs, float("inf"))
    for _ in range(repeats):
        for name, env in envs.items():
            best[name] = min(best[name], stepping_seconds(env, actions, seed) / n_steps)
    for env in envs.values():
        env.close()
    physics = best["state"]
    two = physics + (best["front"] - physics) + (best["wrist"] - physics)
    label = f"steps ({preset or 'no randomization'}, rgb {size}px"
    return [
        Measurement(env_id, f"steps ({preset or 'no randomization'}, state, no image)",
                    1.0 / physics, None, "steps/s"),
        *(Measurement(env_id, f"{label}, {name} camera only)", 1.0 / best[name], None,
                      "steps/s") for name in ("front", "wrist")),
        Measurement(env_id, f"{label}, front + wrist; raw: physics + front's and wrist's "
                    "image work)", 1.0 / best["front+wrist"], 1.0 / two, "steps/s"),
    ]  # fmt: skip


__all__ = ["camera_pair", "measure_cameras"]
