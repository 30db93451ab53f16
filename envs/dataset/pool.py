"""Who renders the samples: this process, a local process pool, or Ray tasks.

A pool worker that dies (``kill -9``, the OOM killer) stops the run with an error naming the
samples queued or running instead of hanging it. Each process builds one env and, for
non-random steps, gets the policy factory with its settings.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from envs.dataset.config import ExportConfig, ExportError, PolicyFactory, WorkerDiedError
from envs.dataset.sample import close_worker, export_one, init_worker

POOL_CHUNK = 4  # samples per pool task: one result message per sample costs the parent
# ~1 ms of CPU per sample on a busy 2-core machine, which the workers lack
PENDING_PER_WORKER = 4  # chunks submitted ahead per worker (bounded memory, busy workers)


class _Pool:
    init_error: str | None = None  # why this pool process could not build its env


def _init_pool_worker(config: ExportConfig, policy_factory: PolicyFactory | None) -> None:
    """A pool initializer that never raises (a raising one breaks the pool with no reason
    given): the error is kept and reported by the first chunk this process gets."""
    try:
        init_worker(config, policy_factory)
    except Exception as exc:
        _Pool.init_error = f"{type(exc).__name__}: {exc}"


def _export_chunk(indices: list[int]) -> list[int]:
    """One pool task: a few consecutive samples (fewer result messages than one per sample)."""
    if _Pool.init_error is not None:
        raise ExportError(f"a worker could not build its env: {_Pool.init_error}")
    return [export_one(i) for i in indices]


def chunks(todo: Iterator[int], size: int) -> Iterator[list[int]]:
    """Consecutive lists of ``size`` indices (the last one shorter), drawn lazily."""
    while chunk := list(itertools.islice(todo, size)):
        yield chunk


def run_serial(
    config: ExportConfig,
    policy_factory: PolicyFactory | None,
    todo: Iterator[int],
    done: Callable[[int], None],
) -> None:
    """Every sample in this process, in index order."""
    first = next(todo, None)
    if first is None:
        return
    init_worker(config, policy_factory)
    try:
        for i in itertools.chain([first], todo):
            export_one(i)
            done(1)
    finally:
        close_worker()


def run_pool(
    config: ExportConfig,
    policy_factory: PolicyFactory | None,
    todo: Iterator[int],
    workers: int,
    done: Callable[[int], None],
) -> None:
    """Chunks of ``POOL_CHUNK`` samples as futures, a bounded number ahead. A worker that
    dies breaks the pool at once: the error names the samples not finished yet (queued or
    running; a sample is finished once its label file exists)."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    queued = chunks(todo, POOL_CHUNK)
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_pool_worker,
        initargs=(config, policy_factory),
    )  # fmt: skip
    pending: dict[Future[list[int]], list[int]] = {}
    failed = True
    try:
        more = True
        while more or pending:
            while more and len(pending) < PENDING_PER_WORKER * workers:
                chunk = next(queued, None)
                if chunk is None:
                    more = False
                    break
                pending[pool.submit(_export_chunk, chunk)] = chunk
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: pending[f][0]):
                try:
                    done(len(future.result()))
                except BrokenProcessPool:
                    labels = Path(config.out) / "labels"
                    left = sorted(
                        i
                        for f, c in pending.items()
                        if not (f.done() and f.exception() is None)
                        for i in c
                        if not (labels / f"{i:06d}.json").exists()
                    )
                    raise WorkerDiedError(
                        f"a worker process died (killed by a signal, e.g. kill -9 or the OOM "
                        f"killer) while samples {left} were queued or running"
                    ) from None
                del pending[future]
        failed = False
    finally:
        # on an error: drop the queued chunks and let the running ones finish (their
        # samples are kept); a broken pool has no running ones left
        pool.shutdown(wait=True, cancel_futures=failed)


def _export_shard(
    config: ExportConfig, policy_factory: PolicyFactory | None, indices: list[int]
) -> int:
    """One Ray task: build an env, export a shard of sample indices, close the env."""
    init_worker(config, policy_factory)
    try:
        for i in indices:
            export_one(i)
    finally:
        close_worker()
    return len(indices)


def import_ray() -> Any:
    """The ``ray`` module; an ImportError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ImportError(
            "backend='ray' needs Ray, which is not installed: pip install -e '.[ray]', or "
            "use --backend local"
        ) from None
    return ray


def run_ray(
    config: ExportConfig,
    policy_factory: PolicyFactory | None,
    todo: Iterator[int],
    done: Callable[[int], None],
) -> None:
    """The same shards as Ray tasks (``ray.init(address)``; a local Ray when None). The
    output folder must be reachable from every node (a shared filesystem)."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=config.address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_export_shard)
        pending = [
            task.remote(config, policy_factory, shard) for shard in chunks(todo, config.shard_size)
        ]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            done(ray.get(finished[0]))
    finally:
        if started:
            ray.shutdown()
