"""Unlabelled frames of a held-out domain: the only real-world input of the appearance
GAN and the image translator.

A user photographs their own workspace with their own camera; here
:func:`collect_frames` stands in for that by rendering resets of a held-out preset and
keeping nothing but the pixels (no labels, poses, params or seeds are written).
:func:`load_frames` reads such a folder back and refuses what cannot serve: too few
frames, frames of mixed sizes, files that are not images.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from randomizers.texture_sources import list_images

MIN_FRAMES = 8
MAX_FRAMES = 200  # "a handful of frames from the user's own camera"


def collect_frames(env_id: str, preset: Any, out: str | Path, *, num: int = 100,
                   size: int = 64, seed: int = 1000, progress: bool = False) -> list[Path]:
    """Render ``num`` randomized resets of ``env_id`` under ``preset`` and write each as a
    plain RGB PNG ``frame_NNNN.png`` in ``out``; nothing else about the scene is kept."""
    import gymnasium as gym
    from tqdm import tqdm

    from envs.seeding import episode_seed

    if not MIN_FRAMES <= num <= MAX_FRAMES:
        raise ValueError(f"num must be {MIN_FRAMES}..{MAX_FRAMES} frames (a handful of "
                         f"unlabelled photos stands in for the user's camera), got {num}")  # fmt: skip
    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    existing = list(folder.glob("frame_*.png"))
    if existing:
        raise ValueError(f"{str(folder)!r} already holds {len(existing)} frame_*.png files; "
                         f"choose an empty folder")  # fmt: skip
    env = gym.make(env_id, obs_mode="rgb", image_size=size, randomization=preset)
    written: list[Path] = []
    try:
        for i in tqdm(range(num), desc="frames", unit="frame", disable=not progress):
            obs, _ = env.reset(seed=episode_seed(seed, i))
            path = folder / f"frame_{i:04d}.png"
            tmp = path.with_suffix(".tmp.png")
            Image.fromarray(np.asarray(obs, dtype=np.uint8)).save(tmp)
            tmp.replace(path)  # a killed run leaves only whole frames
            written.append(path)
    finally:
        env.close()
    return written


def load_frames(folder: str | Path, *, min_count: int = MIN_FRAMES) -> np.ndarray:
    """Every image in ``folder`` as one (N, H, W, 3) uint8 array, in file-name order.

    Raises ``ValueError`` naming the count when there are fewer than ``min_count``
    images, naming the file when one is not a readable image, and naming two files of
    different sizes when sizes are mixed.
    """
    paths = list_images(folder)
    if len(paths) < min_count:
        raise ValueError(f"{str(folder)!r} holds {len(paths)} image(s); at least {min_count} "
                         f"unlabelled frames are needed (collect more, e.g. "
                         f"scripts/collect_frames.py --num 100)")  # fmt: skip
    frames: list[np.ndarray] = []
    for path in paths:
        try:
            with Image.open(path) as im:
                frame = np.asarray(im.convert("RGB"))
        except (OSError, UnidentifiedImageError) as exc:
            raise ValueError(f"{str(path)!r} is not a readable image: {exc}") from None
        if frames and frame.shape != frames[0].shape:
            h0, w0 = frames[0].shape[:2]
            raise ValueError(f"frames of mixed sizes: {paths[0].name} is {w0}x{h0} px but "
                             f"{path.name} is {frame.shape[1]}x{frame.shape[0]} px; resize "
                             f"them to one size")  # fmt: skip
        frames.append(frame)
    return np.stack(frames)


__all__ = ["MAX_FRAMES", "MIN_FRAMES", "collect_frames", "load_frames"]
