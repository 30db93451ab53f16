"""Vector envs whose worker processes may die: the error a run raises instead of an
``EOFError`` or a hang, and closing what is left; plus the image-size check that every
env-building config shares.

Gymnasium's ``AsyncVectorEnv`` (rollouts) and SB3's ``SubprocVecEnv`` (training) run one
process per env; when one is killed (out of memory, a native crash) the pipe to it raises
one of :data:`WORKER_ERRORS`, which callers turn into :class:`VectorEnvWorkerError`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from envs.panda_env import MAX_IMAGE_SIZE

WORKER_ERRORS: tuple[type[BaseException], ...] = (EOFError, BrokenPipeError, ConnectionResetError)
"""what a pipe to a dead worker process raises"""


class VectorEnvWorkerError(RuntimeError):
    """A vector env's worker process died (killed, out of memory, a native crash)."""


def check_image_size(value: Any, name: str = "image_size") -> int:
    """An observation image size: an int in 1..MAX_IMAGE_SIZE (never silently a default)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an int number of pixels, got {value!r}")
    if not 1 <= value <= MAX_IMAGE_SIZE:
        raise ValueError(
            f"{name} must be 1..{MAX_IMAGE_SIZE} px, got {value}; pick a size in that range "
            f"(e.g. 64)"
        )
    return int(value)


def worker_died(envs: Any, exc: BaseException) -> VectorEnvWorkerError:
    """The error to raise when talking to a vector env's worker failed with ``exc``."""
    codes = []
    deadline = time.monotonic() + 1.0  # a dying process may need a moment to be reaped
    for i, proc in enumerate(getattr(envs, "processes", None) or []):
        proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if proc.exitcode is not None:
            signal = f" (signal {-proc.exitcode})" if proc.exitcode < 0 else ""
            codes.append(f"worker {i} exited with code {proc.exitcode}{signal}")
    detail = "; ".join(codes) or f"{type(exc).__name__} on its pipe"
    return VectorEnvWorkerError(
        f"a vector-env worker process died ({detail}); it was killed (out of memory?) or "
        f"crashed: rerun with --num-envs 1 to see the underlying error"
    )


def close_vector_env(envs: Any, worker_dead: bool) -> None:
    """Close a Gymnasium vector env; after a worker died, terminate the others without
    waiting."""
    if not worker_dead:
        envs.close()
        return
    from gymnasium.vector.async_vector_env import AsyncState

    envs._state = AsyncState.DEFAULT  # the pending call can never complete: drop it
    try:
        envs.close(terminate=True)
    except (EOFError, OSError):  # BrokenPipeError and ConnectionResetError are OSErrors
        envs.closed = True  # nothing left to close; keeps __del__ from trying again


def close_sb3_vec_env(venv: Any, worker_dead: bool) -> None:
    """Close a Stable-Baselines3 vector env; after a worker died, terminate the rest."""
    if not worker_dead:
        venv.close()
        return
    for proc in venv.processes:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
    for remote in getattr(venv, "remotes", []):
        remote.close()
    venv.closed = True
