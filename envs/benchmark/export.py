"""Dataset-export throughput (steady state and with start-up) next to bare
``getCameraImage`` of the same randomized scenes by as many processes, and the extra
alone-renders per image that the labels' visible fractions need."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, cast

from envs.benchmark.scaling import run_together
from envs.benchmark.tables import ExportRow
from envs.panda_env import PandaTaskEnv


def _raw_export_worker(
    env_id: str, preset: str, size: int, seeds: list[int], plan: bool, barrier: Any,
    results: Any,
) -> None:  # fmt: skip
    """One process: the exporter's env, then per scene a reset (untimed) and one timed bare
    ``getCameraImage`` like the export's main render; optionally count the alone-renders
    (window renders) and their pixels."""
    import gymnasium as gym
    import numpy as np

    from envs.dataset.labels import labelled_objects
    from envs.dataset.visibility import window_renders

    made = gym.make(env_id, obs_mode="state", image_size=size, randomization=preset)
    env = cast(PandaTaskEnv, made.unwrapped)
    c, cam = env.scene.client, env.camera
    barrier.wait()
    seconds, renders, pixels = 0.0, 0, 0
    for seed in seeds:
        env.reset(seed=seed)
        light = {**cam.config.light, **cam.light}
        t0 = time.perf_counter()
        seg = c.getCameraImage(size, size, cam.view_matrix, cam.projection_matrix,
                               renderer=cam._renderer, **light)[4]  # fmt: skip
        seconds += time.perf_counter() - t0
        if plan:
            bodies = [env.scene.sim.body(n) for n, _ in labelled_objects(env)]
            for _, w, _ in window_renders(env, bodies, np.reshape(seg, (size, size)))[1]:
                renders, pixels = renders + 1, pixels + (w[2] - w[0]) * (w[3] - w[1])
    results.put((len(seeds), seconds, renders, pixels))
    env.close()


def raw_export_rate(
    env_id: str, preset: str, size: int, seeds: list[int], processes: int, plan: bool
) -> tuple[float, float, float]:
    """(images/s of bare renders of ``seeds`` split over ``processes`` running at once;
    when ``plan``, the mean alone-renders per image and their pixels per image as a
    fraction of one frame)."""
    out = run_together(_raw_export_worker, [
        (env_id, preset, size, seeds[w::processes], plan) for w in range(processes)
    ])  # fmt: skip
    renders = sum(r for _, _, r, _ in out) / len(seeds)
    area = sum(a for _, _, _, a in out) / len(seeds) / size**2
    return sum(n / s for n, s, _, _ in out), renders, area


def steady_rate(stamps: list[float], first: int) -> float | None:
    """Images/s between the ``first``-th finished image and the last (``stamps``: finish
    time of each image); ``None`` when that window is empty."""
    if len(stamps) <= first or stamps[-1] <= stamps[first - 1]:
        return None
    return (len(stamps) - first) / (stamps[-1] - stamps[first - 1])


def _export_rates(config: Any) -> tuple[float, float]:
    """(steady-state images/s, images/s including start-up) of one export. A pool returns
    results in chunks: the steady window starts once every worker's first chunk is back."""
    from envs.dataset.export import export_dataset
    from envs.dataset.pool import POOL_CHUNK

    stamps: list[float] = []
    t0 = time.perf_counter()
    export_dataset(
        config, progress=False, on_done=lambda n: stamps.extend([time.perf_counter()] * n)
    )
    total = config.num_images / (time.perf_counter() - t0)
    steady = steady_rate(stamps, 1 if config.workers == 1 else config.workers * POOL_CHUNK)
    return (total if steady is None else steady), total


def measure_export(
    env_id: str,
    preset: str = "tobin",
    *,
    sizes: tuple[int, ...] = (64, 128),
    workers: tuple[int, ...] = (1, 2),
    n_images: int = 200,
    repeats: int = 1,
) -> list[ExportRow]:
    """Export throughput (steady state and with start-up; best of ``repeats``) next to bare
    ``getCameraImage`` of the same randomized scenes by as many processes."""
    import shutil
    import tempfile

    from envs.dataset.config import ExportConfig
    from envs.seeding import episode_seed

    seeds = [episode_seed(0, i) for i in range(n_images)]  # the scenes ExportConfig(seed=0) makes
    rows = []
    for size in sizes:
        renders = area = 0.0
        for k in workers:
            raw = 0.0
            for rep in range(repeats):
                first = rep == 0 and k == workers[0]  # count alone-renders once per size
                rate, planned, covered = raw_export_rate(env_id, preset, size, seeds, k, first)
                raw = max(raw, rate)
                renders, area = (planned, covered) if first else (renders, area)
            steady = total = 0.0
            for _ in range(repeats):
                tmp = tempfile.mkdtemp(prefix="domrand-bench-")
                try:
                    cfg = ExportConfig(env_id=env_id, preset=preset, num_images=n_images,
                                       size=size, out=str(Path(tmp) / "ds"), workers=k)  # fmt: skip
                    s, t = _export_rates(cfg)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
                steady, total = max(steady, s), max(total, t)
            rows.append(ExportRow(env_id, preset, size, k, steady, total, raw, renders, area))
    return rows


__all__ = ["measure_export", "raw_export_rate", "steady_rate"]
