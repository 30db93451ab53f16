"""A labelled grid of randomized frames: see what a preset does before training on it."""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from PIL import Image, ImageDraw

from envs.seeding import episode_seed


def preview_grid(
    env_id: str,
    preset: Any,
    *,
    num: int = 16,
    size: int = 128,
    seed: int = 0,
    columns: int | None = None,
) -> Image.Image:
    """One frame per episode seed after a randomized reset, tiled and labelled."""
    if num < 1:
        raise ValueError(f"num must be >= 1, got {num}")
    env = gym.make(env_id, obs_mode="rgb", image_size=size, randomization=preset)
    try:
        frames = []
        for i in range(num):
            s = episode_seed(seed, i)
            obs, _ = env.reset(seed=s)
            frames.append((s, obs))
    finally:
        env.close()
    cols = columns or math.ceil(math.sqrt(num))
    rows = math.ceil(num / cols)
    label_h = 12
    grid = Image.new("RGB", (cols * size, rows * (size + label_h)), (255, 255, 255))
    draw = ImageDraw.Draw(grid)
    for i, (s, obs) in enumerate(frames):
        x, y = (i % cols) * size, (i // cols) * (size + label_h)
        grid.paste(Image.fromarray(np.asarray(obs)), (x, y + label_h))
        draw.text((x + 2, y), f"seed {s}", fill=(0, 0, 0))
    return grid
