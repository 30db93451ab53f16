"""Where a randomized frame's time goes: each randomizer's ``sample`` and ``apply``, the
task's placement, restoring the world, the render and the image filter, timed inside
``env.reset`` (a new domain every frame). The rows say which part of a preset to look at
before optimizing it."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any, cast

from envs.benchmark.tables import Measurement
from envs.panda_env import PandaTaskEnv


@contextlib.contextmanager
def _timed(parts: list[tuple[Any, str, str]], seconds: dict[str, float]) -> Iterator[None]:
    """Wrap each ``(object, method, label)`` so its calls add their wall time to
    ``seconds[label]``; the originals come back when the block ends."""

    def wrap(fn: Callable[..., Any], label: str) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[label] += time.perf_counter() - t0

        return timed

    missing = object()
    saved = [(obj, name, vars(obj).get(name, missing)) for obj, name, _ in parts]
    for obj, name, label in parts:
        setattr(obj, name, wrap(getattr(obj, name), label))
    try:
        yield
    finally:
        for obj, name, old in reversed(saved):
            if old is missing:
                delattr(obj, name)  # the class's method shows again
            else:
                setattr(obj, name, old)


def measure_breakdown(
    env_id: str, preset: str, size: int = 64, *, n_frames: int = 300, seed: int = 0
) -> list[Measurement]:
    """Mean microseconds per randomized reset (state, domain and first RGB frame) spent in
    each part, largest first, then the rest of ``reset`` and the whole; 'the rest' is
    Gymnasium's reseeding, the info dict and every step not listed."""
    import gymnasium as gym

    env = cast(
        PandaTaskEnv,
        gym.make(env_id, obs_mode="rgb", image_size=size, randomization=preset).unwrapped,
    )
    env.reset(seed=seed)
    parts: list[tuple[Any, str, str]] = [
        (env.camera, "render", "render (getCameraImage and its arrays)"),
        (env, "_filter", "image filter (noise, blur, colour)"),
        (env.scene.sim, "restore", "restore the world"),
        (env.robot, "reset", "robot home pose"),
        (env.scene, "reset_effects", "nominal effects"),
        (env.task, "sample_state", "task: sample placement"),
        (env.task, "apply_state", "task: place objects"),
        (env.camera, "info", "camera info (K, extrinsics)"),
    ]
    for r in getattr(env.randomizer, "randomizers", [env.randomizer] if env.randomizer else []):
        parts += [(r, "sample", f"{r.name}: sample"), (r, "apply", f"{r.name}: apply")]
    seconds: defaultdict[str, float] = defaultdict(float)
    with _timed(parts, seconds):
        t0 = time.perf_counter()
        for i in range(n_frames):
            env.reset(seed=seed + i)
        total = time.perf_counter() - t0
    env.close()
    rows = [
        Measurement(env_id, f"{preset} {size}px reset part: {label}", s / n_frames * 1e6,
                    None, "us")
        for label, s in sorted(seconds.items(), key=lambda kv: -kv[1])
    ]  # fmt: skip
    rest = total - sum(seconds.values())
    rows.append(Measurement(env_id, f"{preset} {size}px reset part: the rest",
                            rest / n_frames * 1e6, None, "us"))  # fmt: skip
    rows.append(Measurement(env_id, f"{preset} {size}px reset: whole",
                            total / n_frames * 1e6, None, "us"))  # fmt: skip
    return rows


__all__ = ["measure_breakdown"]
