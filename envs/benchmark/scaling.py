"""Randomized frames/s across processes: every combination of image size, process count,
visual detail and renderer, next to bare ``getCameraImage`` on the same randomized scenes
in the same processes. Also the process runner the export benchmark shares."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from envs.benchmark.tables import Measurement
from envs.panda_env import PandaTaskEnv


def run_together(target: Callable[..., None], worker_args: list[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in one process per ``worker_args`` entry, all
    released at once by the barrier; returns what each put on ``results``."""
    import multiprocessing as mp

    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    barrier, results = ctx.Barrier(len(worker_args)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in worker_args]
    for p in procs:
        p.start()
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    return out


def _randomized_worker(
    env_id: str, preset: str, size: int, detail: str, renderer: str, n_frames: int, seed: int,
    barrier: Any, results: Any,
) -> None:  # fmt: skip
    """One process: build the env, wait for the others, time ``n_frames`` randomized frames
    (a new domain each), then time bare ``getCameraImage`` calls on the same scene."""
    import warnings

    import gymnasium as gym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        made = gym.make(
            env_id, obs_mode="rgb", image_size=size, randomization=preset,
            visual_detail=detail, renderer=renderer,
        )  # fmt: skip
        env = cast(PandaTaskEnv, made.unwrapped)
    env.reset(seed=seed)
    barrier.wait()
    t0 = time.perf_counter()
    for i in range(n_frames):
        env.reset(seed=seed + i)
    t1 = time.perf_counter()
    cam, c = env.camera, env.scene.client
    flags = c.ER_NO_SEGMENTATION_MASK
    args = (size, size, cam.view_matrix, cam.projection_matrix)
    r0 = time.perf_counter()
    for _ in range(n_frames):
        c.getCameraImage(*args, renderer=cam._renderer, flags=flags, **cam.light)
    r1 = time.perf_counter()
    results.put((t0, t1, r1 - r0, env.scene.sim.renderer))
    env.close()


def measure_scaling(
    env_id: str,
    preset: str = "tobin",
    *,
    sizes: tuple[int, ...] = (64, 128),
    processes: tuple[int, ...] = (1, 2),
    details: tuple[str, ...] = ("low", "full"),
    renderers: tuple[str, ...] = ("tiny", "egl"),
    n_frames: int = 200,
    seed: int = 0,
) -> list[Measurement]:
    """Randomized frames/s (a new ``preset`` domain every frame) for every combination of
    size, process count, visual detail and renderer. The raw column is bare
    ``getCameraImage`` on the same randomized scenes, in the same processes."""
    rows = []
    for renderer in renderers:
        for detail in details:
            for size in sizes:
                for k in processes:
                    out = run_together(_randomized_worker, [
                        (env_id, preset, size, detail, renderer, n_frames, seed + 100_000 * w)
                        for w in range(k)
                    ])  # fmt: skip
                    wall = max(o[1] for o in out) - min(o[0] for o in out)
                    env_fps = k * n_frames / wall
                    raw_fps = sum(n_frames / o[2] for o in out)
                    used = out[0][3]
                    label = f"{preset} frames, {size}px, {k} proc, {detail}, {used}"
                    if used != renderer:
                        label += f" (asked {renderer})"
                    rows.append(Measurement(env_id, label, env_fps, raw_fps, "frames/s"))
    return rows


__all__ = ["measure_scaling", "run_together"]
