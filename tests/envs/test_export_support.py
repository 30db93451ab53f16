"""Helpers the export tests share (no tests here): small exports, byte trees of folders, the
script run in-process, deadlines, and workers that die or fail on a chosen sample."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

import envs.dataset.sample as sample
from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset

N, SIZE = 6, 32  # the reference export: 6 images of 32 px
ASSETS = Path(__file__).resolve().parents[2] / "assets"
PHOTOS = ASSETS / "textures" / "photos"
GAN = ASSETS / "gan" / "tobin_gan.pt"


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path, with its bytes."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def quiet(_: str) -> None:
    """A ``note`` that drops the remark."""


def export_small(out: Path, **kwargs: Any) -> Path:
    """An export of ``N`` images of ``SIZE`` px (``kwargs`` override), without notes."""
    settings: dict[str, Any] = {"num_images": N, "size": SIZE, "out": str(out), **kwargs}
    return export_dataset(ExportConfig(**settings), progress=False, note=quiet)


def reference_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that damaged copies must return to."""
    return export_small(tmp_path_factory.mktemp("reference") / "ref")


def copy_of(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference export, ``tmp_path / "data"``."""
    return Path(shutil.copytree(reference, tmp_path / "data"))


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than ``seconds``."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_script(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``scripts/export_dataset.py`` in this process: (exit code, stderr)."""
    from scripts import export_dataset as script

    code = script.main([*argv, "--no-progress"])
    return code, capsys.readouterr().err


def one_line_error(err: str) -> str:
    """The one ``error: ...`` line of ``err`` (asserting there is exactly one, no traceback)."""
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def kill_at(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    """Pool workers (forked: the patch survives) SIGKILL themselves on sample ``index``."""
    real, parent = sample.export_sample, os.getpid()

    def dying(i: int) -> int:
        if i == index and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(i)

    monkeypatch.setattr(sample, "export_sample", dying)


def fail_at(monkeypatch: pytest.MonkeyPatch, index: int) -> None:
    """Sample ``index`` raises ``OSError("disk full")``."""
    real = sample.export_sample

    def failing(i: int) -> int:
        if i == index:
            raise OSError("disk full")
        return real(i)

    monkeypatch.setattr(sample, "export_sample", failing)
