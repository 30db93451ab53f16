"""Careless arguments are one-line errors (exit 2, ``error: ...``, no traceback): image
sizes, benchmark settings, presets, tasks, counts, devices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tests.scripts.script_support import REACH, call, command_module, one_line_error, training_argv

# ------------------------------------------------------------ 4. image sizes


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("rollout", ["--obs-mode", "rgb", "--image-size", "0"], ["image_size must be 1..2048", "got 0"]),
        ("rollout", ["--obs-mode", "rgb", "--image-size", "-5"], ["image_size must be 1..2048", "got -5"]),
        ("rollout", ["--obs-mode", "rgb", "--image-size", "4096"], ["image_size must be 1..2048", "got 4096"]),
        ("rollout", ["--record", "domrand/rel-size-v0", "--image-size", "0"], ["image_size must be 1..2048"]),
        ("train_policy", ["--obs-mode", "rgb", "--image-size", "4096", "--steps", "5",
                          "--no-tensorboard"], ["image_size must be 1..2048", "got 4096"]),
        ("bc_transfer", ["--image-size", "0", "--demos", "1,1", "--eval-episodes", "1"], ["image_size must be 1..2048", "got 0"]),
        ("bc_transfer", ["--image-size", "40", "--demos", "1,1", "--eval-episodes", "1"], ["multiple of 16", "got 40"]),
        ("ablation", ["--size", "0"], ["--size must be a power of two >= 32", "got 0"]),
        ("balance_rare_events", ["--rollouts", "2", "--export", "EXPORT", "--size", "0"],
         ["--size must be 1..2048", "got 0"]),
    ],
    ids=["rollout-0", "rollout-negative", "rollout-4096", "record-0", "train_policy-4096",
         "bc_transfer-0", "bc_transfer-40", "ablation-0", "balance_export-0"],
)  # fmt: skip
def test_image_sizes_out_of_range_are_errors(
    script: str, argv: list[str], words: list[str], minari_home: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    module = command_module(script)
    argv = [str(tmp_path / "export") if a == "EXPORT" else a for a in argv]
    assert call(module.main, [*argv, "--no-progress"]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ benchmark arguments


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--sizes", "0"], ["image sizes must be 1..2048", "[0]"]),
        (["--sizes", "64", "4096"], ["image sizes must be 1..2048", "[4096]"]),
        (["--steps", "0"], ["steps must be >= 1", "got 0"]),
        (["--resets", "0"], ["resets must be >= 1", "got 0"]),
        (["--env", "--export"], ["no env to benchmark", "--env"]),
        (["--presets", "nosuch"], ["unknown preset 'nosuch'"]),
        (["--scaling", "--processes", "0"], ["process counts must be >= 1"]),
    ],
    ids=["sizes-0", "sizes-4096", "steps-0", "resets-0", "no-env", "unknown-preset", "processes-0"],
)  # fmt: skip
def test_benchmark_argument_errors(argv: list[str], words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from scripts import benchmark

    base = ["--env", REACH, "--sizes", "16", "--steps", "2", "--resets", "1", "--repeats", "1",
            "--presets", "none"]  # fmt: skip
    assert call(benchmark.main, [*base, *argv]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ other careless inputs


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("gan_quality", ["--num", "1"], ["num must be at least 20", "got 1"]),
        ("gan_quality", ["--num", "0"], ["num must be at least 20", "got 0"]),
        ("train_gan", ["--device", "cuda"], ["device 'cuda' is not available", "--device cpu"]),
        ("rollout", ["--preset", "nosuch"], ["unknown preset 'nosuch'"]),
        ("robustness", ["--train-presets", "nosuch", "--steps", "5"], ["unknown preset 'nosuch'"]),
        ("bc_transfer", ["--tasks", "nosuch", "--demos", "1"], ["unknown task(s) ['nosuch']"]),
        ("bc_transfer", ["--demos", "x"], ["--demos expects comma-separated episode counts"]),
        ("train_failure_predictor", ["--episodes", "0"], ["episodes must be >= 2", "got 0"]),
        ("train_bc", ["--lr", "-1"], ["lr must be > 0", "got -1.0"]),
    ],
    ids=["gan_quality-num-1", "gan_quality-num-0", "train_gan-no-cuda", "rollout-unknown-preset",
         "robustness-unknown-train-preset", "bc_transfer-unknown-task", "bc_transfer-demos-x",
         "failure_predictor-episodes-0", "train_bc-negative-lr"],
)  # fmt: skip
def test_careless_inputs_are_one_line_errors(
    script: str, argv: list[str], words: list[str], gan: dict[str, Path], bc: dict[str, Any],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if script == "train_gan" and torch.cuda.is_available():
        pytest.skip("a CUDA device exists here")
    monkeypatch.chdir(tmp_path)
    base = {
        "gan_quality": ["--model", str(gan["ckpt"]), "--images", str(gan["photos"])],
        "train_gan": training_argv("train_gan", tmp_path / "g.pt", {}, gan, {}),
        "rollout": ["--episodes", "1", "--no-progress"],
        "robustness": ["--out", str(tmp_path / "rb"), "--no-progress"],
        "bc_transfer": ["--out", str(tmp_path / "bt"), "--demos", "1,1", "--eval-episodes", "1",
                        "--epochs", "1", "--no-progress"],
        "train_failure_predictor": ["--no-progress"],
        "train_bc": training_argv("train_bc", tmp_path / "b.pt", {}, {}, bc),
    }[script]
    module = command_module(script)
    capsys.readouterr()
    assert call(module.main, [*base, *argv]) == 2
    one_line_error(capsys, *words)
