"""Vector envs whose workers die: the error names the exit codes; closing terminates the
rest; image sizes are validated where configs take them."""

from __future__ import annotations

import pytest

from agents.vector import (
    VectorEnvWorkerError,
    check_image_size,
    close_sb3_vec_env,
    worker_died,
)
from envs.panda_env import MAX_IMAGE_SIZE


class _Proc:
    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        self.terminated = self.joined = False

    def join(self, timeout: float | None = None) -> None:
        self.joined = True

    def is_alive(self) -> bool:
        return self.exitcode is None

    def terminate(self) -> None:
        self.terminated = True


class _Remote:
    closed = False

    def close(self) -> None:
        self.closed = True


class _Envs:
    def __init__(self, codes: list[int | None]) -> None:
        self.processes = [_Proc(c) for c in codes]
        self.remotes = [_Remote() for _ in codes]
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_check_image_size() -> None:
    assert check_image_size(64) == 64 and check_image_size(MAX_IMAGE_SIZE) == MAX_IMAGE_SIZE
    with pytest.raises(ValueError, match=rf"--size must be 1\.\.{MAX_IMAGE_SIZE} px, got 0"):
        check_image_size(0, "--size")
    for bad in (True, 64.0, "64"):
        with pytest.raises(ValueError, match="must be an int number of pixels"):
            check_image_size(bad)


def test_worker_died_names_the_exit_codes() -> None:
    err = worker_died(_Envs([None, -9, 1]), EOFError())
    assert isinstance(err, VectorEnvWorkerError)
    assert "worker 1 exited with code -9 (signal 9); worker 2 exited with code 1" in str(err)
    assert "--num-envs 1" in str(err)
    assert "BrokenPipeError on its pipe" in str(worker_died(object(), BrokenPipeError()))


def test_close_sb3_vec_env_terminates_after_a_death() -> None:
    envs = _Envs([None, -9])
    close_sb3_vec_env(envs, worker_dead=True)
    assert [p.terminated for p in envs.processes] == [True, False]
    assert all(r.closed for r in envs.remotes) and envs.closed
    healthy = _Envs([None])
    close_sb3_vec_env(healthy, worker_dead=False)
    assert healthy.closed and not healthy.processes[0].terminated
