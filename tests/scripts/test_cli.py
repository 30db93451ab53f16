"""The ``domrand`` command: dispatch, help texts with their line breaks, one-line errors for
missing extras, and stdout kept free of PyBullet's build banner."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import COMMANDS, main, missing_extra, module_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_keeps_the_docstring_line_breaks(command: str) -> None:
    module = importlib.import_module(module_name(command))
    text = module.build_parser(f"domrand {command}").format_help()
    assert text.startswith(f"usage: domrand {command} [-h]")
    for line in (module.__doc__ or "").strip().splitlines():
        assert line in text, (command, line)  # verbatim: same breaks, same indentation


def test_script_and_command_print_the_same_help_and_only_it() -> None:
    env = {**os.environ, "COLUMNS": "100"}
    script = subprocess.run([sys.executable, "scripts/rollout.py", "--help"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    command = subprocess.run([sys.executable, "-m", "agents.cli", "rollout", "--help"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert script.returncode == command.returncode == 0
    assert script.stdout.startswith("usage: rollout.py [-h]")
    assert command.stdout.startswith("usage: domrand rollout [-h]")
    assert "pybullet" not in script.stdout + command.stdout
    assert script.stdout.endswith("  --no-progress         hide the progress bar\n")
    usage = len("usage: rollout.py ")
    assert script.stdout.splitlines()[usage:] == command.stdout.splitlines()[usage:]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ctypes.CDLL(None) is libc")
def test_c_level_prints_at_pybullet_import_go_to_stderr() -> None:
    # PyBullet < 3.2.6 printf()s its build banner to stdout when imported: simulate that
    code = (
        "import ctypes\n"
        "from envs.sim import _stdout_to_stderr\n"
        "print('before', flush=True)\n"
        "with _stdout_to_stderr():\n"
        "    ctypes.CDLL(None).printf(b'pybullet build time: now\\n')\n"
        "print('after')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "before\nafter\n"
    assert "pybullet build time: now" in proc.stderr


def test_no_command_or_an_unknown_one_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, words in (([], "the following arguments are required: COMMAND"),
                        (["rolout", "--episodes", "1"], "invalid choice: 'rolout'")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: domrand [-h] COMMAND ...") and words in err


def test_a_command_s_own_usage_errors_name_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["export", "--num-images", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: domrand export [-h]")
    assert "domrand export: error: the following arguments are required: --out" in err


def test_missing_extras_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import agents.cli

    def missing(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}", name="stable_baselines3.common")

    monkeypatch.setattr(agents.cli, "load", missing)
    assert main(["train-policy", "--steps", "1"]) == 2
    assert capsys.readouterr().err == (
        "error: this command needs Stable-Baselines3: pip install 'domrand[rl]'\n")

    def no_torch(name: str) -> None:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(agents.cli, "load", no_torch)
    assert main(["train-policy"]) == 2  # needs torch via SB3: the extra that brings both
    assert main(["train-localizer"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: this command needs PyTorch: pip install 'domrand[rl]'",
        "error: this command needs PyTorch: pip install 'domrand[learn]'",
    ]


def test_other_missing_modules_are_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    import agents.cli

    def missing(name: str) -> None:
        raise ModuleNotFoundError("No module named 'agents.typo'", name="agents.typo")

    monkeypatch.setattr(agents.cli, "load", missing)
    with pytest.raises(ModuleNotFoundError, match=r"agents\.typo"):
        main(["rollout"])
    assert missing_extra(ImportError("cannot import name 'x'", name="torch")) is None
    assert missing_extra(ModuleNotFoundError("no", name="minari")) == (
        "error: this command needs Minari: pip install 'domrand[offline]'")

    # a library's own ImportError raised from the missing module (randomizers.gan_generator)
    try:
        try:
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        except ModuleNotFoundError as cause:
            raise ImportError("the 'gan' texture source needs torch") from cause
    except ImportError as exc:
        assert missing_extra(exc) == "error: this command needs PyTorch: pip install 'domrand[learn]'"
