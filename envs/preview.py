"""A captioned grid of randomized frames: see what a preset does before training on it."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image

from envs.seeding import episode_seed
from randomizers.image_grid import image_grid


def _caption(seed: int, target: str, others: list[str], params: dict[str, Any]) -> str:
    """The episode seed, the target body (then the task's other objects) and the number
    of distractors."""
    lines = [f"seed {seed}", f"target: {target}" + "".join(f"; {o}" for o in others)]
    count = params.get("distractors", {}).get("count")
    if count is not None:
        lines.append(f"{count} distractors")
    return "\n".join(lines)


def preview_grid(
    env_id: str,
    preset: Any,
    *,
    num: int = 16,
    size: int = 128,
    seed: int = 0,
    columns: int | None = None,
) -> Image.Image:
    """One frame per episode seed after a randomized reset, tiled and captioned with the
    seed, the target body (and the task's other objects) and the number of distractors."""
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    env = gym.make(env_id, obs_mode="rgb", image_size=size, randomization=preset)
    try:
        frames, captions = [], []
        roles = env.unwrapped.scene.roles  # type: ignore[attr-defined]
        target, others = roles["target"][0], list(roles["objects"])
        for i in range(num):
            s = episode_seed(seed, i)
            obs, info = env.reset(seed=s)
            frames.append(np.asarray(obs))
            captions.append(_caption(s, target, others, info.get("randomization", {})))
    finally:
        env.close()
    return image_grid(frames, cols=columns, captions=captions)
