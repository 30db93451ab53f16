"""Outputs checked before the work: another kind of file is not overwritten without
--force, folders and read-only places are refused before any training."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.scripts.script_support import (
    PUSH,
    REACH,
    call,
    command_module,
    one_line_error,
    plain_file,
    training_argv,
)

# ------------------------------------------------------------ 4/5. output paths


@pytest.mark.parametrize(
    ("script", "existing", "words"),
    [
        ("train_gan", "regressor", ["already exists and is a pose-regressor checkpoint", "--force"]),
        ("train_bc", "gan", ["already exists and is a appearance-GAN checkpoint", "--force"]),
        ("train_regressor", "notes", ["already exists and is not a domrand checkpoint", "--force"]),
        ("train_policy", "zip", ["already exists and is not a domrand checkpoint", "--force"]),
    ],
    ids=["train_gan-over-regressor", "train_bc-over-gan", "train_regressor-over-notes",
         "train_policy-over-zip"],
)  # fmt: skip
def test_training_refuses_to_overwrite_another_kind_of_file(
    script: str, existing: str, words: list[str], data: dict[str, Path], gan: dict[str, Path],
    bc: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import shutil

    if existing == "regressor":
        target = tmp_path / "model.pt"
        shutil.copy(data["regressor"], target)
    elif existing == "gan":
        target = tmp_path / "model.pt"
        shutil.copy(gan["ckpt"], target)
    elif existing == "notes":
        target = plain_file(tmp_path / "model.pt")
    else:
        target = tmp_path / "photos.zip"
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("a.txt", "holiday photos")
    before = target.read_bytes()
    argv = training_argv(script, target, data, gan, bc)
    module = command_module(script)
    capsys.readouterr()
    assert call(module.main, argv) == 2
    one_line_error(capsys, *words)
    assert target.read_bytes() == before


def test_force_replaces_another_kind_of_file(data: dict[str, Path], gan: dict[str, Path],
                                             tmp_path: Path) -> None:  # fmt: skip
    import shutil

    from agents.outputs import checkpoint_kind
    from scripts import train_gan

    target = tmp_path / "model.pt"
    shutil.copy(data["regressor"], target)
    argv = training_argv("train_gan", target, data, gan, {})
    assert train_gan.main([*argv, "--force"]) == 0
    assert checkpoint_kind(target) == "gan"
    assert train_gan.main(argv) == 0  # its own kind is replaced without --force


@pytest.mark.parametrize(
    ("script", "where", "words"),
    [
        ("train_regressor", "folder", ["is an existing folder", "give a file path"]),
        ("train_policy", "folder", ["is an existing folder", "give a file path"]),
        ("train_gan", "folder", ["is an existing folder", "give a file path"]),
        ("train_bc", "readonly", ["is not writable", "choose a writable location"]),
        ("train_gan", "readonly", ["is not writable", "choose a writable location"]),
        ("train_regressor", "readonly", ["is not writable", "choose a writable location"]),
        ("train_policy", "readonly", ["is not writable", "choose a writable location"]),
        ("train_regressor", "under-a-file", ["is a file, not a folder"]),
    ],
    ids=["train_regressor-folder", "train_policy-folder", "train_gan-folder", "train_bc-readonly",
         "train_gan-readonly", "train_regressor-readonly", "train_policy-readonly",
         "train_regressor-under-a-file"],
)  # fmt: skip
def test_training_checks_out_before_training(
    script: str, where: str, words: list[str], data: dict[str, Path], gan: dict[str, Path],
    bc: dict[str, Any], tmp_path: Path, readonly_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    suffix = ".zip" if script == "train_policy" else ".pt"
    if where == "folder":
        out = tmp_path / f"model{suffix}"
        out.mkdir()
    elif where == "readonly":
        out = readonly_dir / f"domrand-test-model{suffix}"
    else:
        out = plain_file(tmp_path / "notes.txt") / f"model{suffix}"
    module = command_module(script)
    trained = {"n": 0}
    for attr in ("train", "train_bc", "train_gan", "train_regressor"):  # nothing may train
        if hasattr(module, attr):
            def spy(*args: Any, _attr: str = attr, **kwargs: Any) -> Any:
                trained["n"] += 1
                raise AssertionError(f"{_attr} ran before --out was checked")

            monkeypatch.setattr(module, attr, spy)
    capsys.readouterr()
    assert call(module.main, training_argv(script, out, data, gan, bc)) == 2
    one_line_error(capsys, *words)
    assert trained["n"] == 0


@pytest.mark.parametrize(
    ("script", "argv", "words"),
    [
        ("evaluate_regressor", ["--model", "REGRESSOR", "--data", "LIFT32", "--plot", "RO/p.png"],
         ["--plot", "is not writable"]),
        ("rollout", ["--episodes", "1", "--video", "RO/v.gif", "--no-progress"],
         ["--video", "is not writable"]),
        ("sample_gan", ["--model", "GAN", "--num", "2", "--out", "RO/textures"],
         ["--out", "is not writable"]),
        ("benchmark", ["--env", REACH, "--sizes", "16", "--steps", "2", "--resets", "1",
                       "--repeats", "1", "--presets", "none", "--out-dir", "RO/bench"],
         ["--out-dir", "is not writable"]),
        ("robustness", ["--train-presets", "none", "--checkpoint", "none=SB3", "--episodes", "1",
                        "--out", "RO/robustness", "--no-progress"], ["--out", "is not writable"]),
        ("ablation", ["--out", "RO/ablation", "--train-images", "2", "--test-images", "2",
                      "--epochs", "1", "--no-progress"], ["--out", "is not writable"]),
    ],
    ids=["evaluate_regressor-plot", "rollout-video", "sample_gan-out", "benchmark-out-dir",
         "robustness-out", "ablation-out"],
)  # fmt: skip
def test_read_only_outputs_fail_before_the_work(
    script: str, argv: list[str], words: list[str], data: dict[str, Path], gan: dict[str, Path],
    sb3: Path, readonly_dir: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    subst = {"REGRESSOR": str(data["regressor"]), "LIFT32": str(data["lift32"]),
             "GAN": str(gan["ckpt"]), "SB3": str(sb3)}  # fmt: skip
    argv = [subst.get(a, a.replace("RO/", f"{readonly_dir}/domrand-test-")) for a in argv]
    argv = [a.replace("=SB3", f"={sb3}") for a in argv]
    if script == "robustness":
        argv += ["--env", PUSH]
    module = command_module(script)
    capsys.readouterr()
    assert call(module.main, argv) == 2
    one_line_error(capsys, *words)
