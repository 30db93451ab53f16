"""Randomized frames/s across processes: every combination of image size, process count,
visual detail and renderer, next to bare ``getCameraImage`` on the same randomized scenes
in the same processes. Also the process runner the export benchmark shares."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, cast

from envs.benchmark.tables import Measurement
from envs.panda_env import PandaTaskEnv
from envs.sim import quiet_stdout


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
    (a new domain each), then rebuild each of those scenes (untimed) and time one bare
    ``getCameraImage`` of it: the raw render of the same scenes, each rendered once, right
    after its reset like the env's own render (not the last scene rendered ``n`` times,
    whose cost depends on how many distractors that one scene happens to hold)."""
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
    barrier.wait()
    raw = bare_render_seconds(env, [seed + i for i in range(n_frames)])
    results.put((t0, t1, raw, env.scene.sim.renderer))
    env.close()


def bare_render_seconds(env: PandaTaskEnv, seeds: list[int]) -> float:
    """Seconds of one bare ``getCameraImage`` (RGB, the env camera's matrices, lights and
    renderer) of each scene ``env.reset(seed)`` builds; the resets are not timed."""
    cam, c = env.camera, env.scene.client
    w, h = cam.config.width, cam.config.height
    flags = c.ER_NO_SEGMENTATION_MASK
    seconds = 0.0
    for s in seeds:
        env.reset(seed=s)
        light = {**cam.config.light, **cam.light}
        view, proj = cam.view_matrix, cam.projection_matrix
        with quiet_stdout() if env.scene.sim.renderer == "egl" else contextlib.nullcontext():
            r0 = time.perf_counter()
            c.getCameraImage(w, h, view, proj, renderer=cam._renderer, flags=flags, **light)
            seconds += time.perf_counter() - r0
    return seconds


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
    size, process count, visual detail and renderer. The raw column is one bare
    ``getCameraImage`` of each of the same randomized scenes, in the same processes."""
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


__all__ = ["bare_render_seconds", "measure_scaling", "run_together"]
