"""Helpers the script tests share (no tests here): the exit code of a command whether it
returns or argparse exits, its one-line error, the module behind a script, training argv."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

PUSH, REACH, LIFT = "domrand/Push-v0", "domrand/Reach-v0", "domrand/Lift-v0"


def call(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """A script's exit code, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def one_line_error(capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """The script's stderr: one ``error: ...`` line holding every key word, no traceback."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def command_module(script: str) -> ModuleType:
    """The ``agents.cli`` module whose ``main`` ``scripts/<script>.py`` runs (patch it there)."""
    return importlib.import_module(importlib.import_module(f"scripts.{script}").main.__module__)


def plain_file(path: Path) -> Path:
    path.write_text("my notes, not a checkpoint\n")
    return path


def training_argv(script: str, out: Path, data: dict[str, Path], gan: dict[str, Path],
                   bc: dict[str, Any]) -> list[str]:  # fmt: skip
    if script == "train_gan":
        return ["--images", str(gan["photos"]), "--out", str(out), "--steps", "1", "--size", "32",
                "--batch", "4", "--g-channels", "16", "--d-channels", "8", "--z-dim", "8",
                "--quiet"]  # fmt: skip
    if script == "train_bc":
        return ["--dataset", bc["dataset"], "--out", str(out), "--epochs", "1", "--width", "8",
                "--no-progress"]  # fmt: skip
    if script == "train_regressor":
        return ["--train", str(data["lift32"]), "--out", str(out), "--epochs", "1", "--width", "8",
                "--no-progress"]  # fmt: skip
    return ["--env", PUSH, "--steps", "5", "--out", str(out), "--no-tensorboard", "--no-progress"]
