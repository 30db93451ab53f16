"""Checkpoints that fail their checks are one-line errors: SB3 zips refused before SB3
unpickles them, damaged regressor, BC and GAN checkpoints."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.scripts.script_support import PUSH, REACH, one_line_error


def _craft_zip(src: Path, dst: Path, *, meta: Callable[[dict], None] | None = None,
               replace: dict[str, bytes] | None = None, drop: tuple[str, ...] = ()) -> Path:  # fmt: skip
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            if name in drop:
                continue
            payload = zin.read(name)
            if name == "domrand.json" and meta is not None:
                data = json.loads(payload)
                meta(data)
                payload = json.dumps(data).encode()
            zout.writestr(name, (replace or {}).get(name, payload))
    return dst

# ------------------------------------------------------------ SB3 checkpoints


def _no_sb3_load(monkeypatch: pytest.MonkeyPatch) -> None:
    import stable_baselines3.common.base_class as base_class

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("SB3 opened (and would unpickle) a checkpoint that fails its meta check")

    monkeypatch.setattr(base_class, "load_from_zip_file", refuse)


@pytest.mark.parametrize(
    ("craft", "words", "unread"),
    [
        ("meta-only", ["is not a Stable-Baselines3 checkpoint", "lacks the member(s)"], True),
        ("other-obs-space", ["was trained with observation_space (5,)", "has (26,)"], True),
        ("obs-mode-lie", ["observation_space (26,)", "obs_mode 'rgb' has (3, 64, 64)"], True),
        ("kind-bc", ["says kind 'bc'", "behaviour-cloning policies are .pt files"], True),
        ("pickled-weights", ["Stable-Baselines3 could not load it", "UnpicklingError"], False),
    ],
    ids=["zip-not-sb3", "zip-other-obs-space", "zip-other-obs-mode", "zip-kind-bc",
         "zip-pickled-weights"],
)  # fmt: skip
def test_sb3_checkpoints_failing_the_meta_check_are_refused(
    craft: str, words: list[str], unread: bool, sb3: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    import pickle

    from scripts import rollout

    bad = tmp_path / f"{craft}.zip"
    if craft == "meta-only":
        with zipfile.ZipFile(sb3) as src, zipfile.ZipFile(bad, "w") as dst:
            dst.writestr("domrand.json", src.read("domrand.json"))
    elif craft == "other-obs-space":
        _craft_zip(sb3, bad, meta=lambda m: m["extra"]["observation_space"].update(shape=[5]))
    elif craft == "obs-mode-lie":
        _craft_zip(sb3, bad, meta=lambda m: m.update(obs_mode="rgb"))
    elif craft == "kind-bc":
        _craft_zip(sb3, bad, meta=lambda m: m.update(kind="bc", algo="bc"))
    else:
        from fractions import Fraction  # any class a weights-only unpickler refuses

        _craft_zip(sb3, bad, replace={"policy.pth": pickle.dumps({"weights": Fraction(1, 3)})})
    if unread:
        _no_sb3_load(monkeypatch)
    capsys.readouterr()
    assert rollout.main(["--env", PUSH, "--episodes", "1", "--policy", str(bad), "--no-progress"]) == 2
    one_line_error(capsys, *words)


# ------------------------------------------------------------ corrupt checkpoints


def _damaged_regressor(src: Path, dst: Path, how: str) -> Path:
    payload = torch.load(src, weights_only=True)
    if how == "no-config":
        del payload["config"]
    else:
        payload["config"]["depth"] = 7
    torch.save(payload, dst)
    return dst


def _damaged_bc(src: Path, dst: Path, how: str) -> Path:
    payload = torch.load(src, weights_only=True)
    if how == "no-dims":
        del payload["dims"]
    else:
        payload["meta"] = "{not json"
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize(
    ("loader", "how", "words"),
    [
        ("regressor", "no-config", ["damaged pose-regressor checkpoint", "lacks 'config'"]),
        ("regressor", "unknown-config-key", ["damaged pose-regressor checkpoint", "depth"]),
        ("bc", "no-dims", ["damaged behaviour-cloning checkpoint", "lacks 'dims'"]),
        ("bc", "meta-not-json", ["damaged behaviour-cloning checkpoint", "JSONDecodeError"]),
        ("gan", "a-regressor", ["is not a domrand GAN checkpoint", "--out NEW.pt"]),
    ],
    ids=["regressor-no-config", "regressor-unknown-config-key", "bc-no-dims", "bc-meta-not-json",
         "gan-given-a-regressor"],
)  # fmt: skip
def test_corrupt_checkpoints_are_one_line_errors(
    loader: str, how: str, words: list[str], data: dict[str, Path], bc: dict[str, Any],
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from scripts import evaluate_regressor, rollout, sample_gan

    capsys.readouterr()
    if loader == "regressor":
        bad = _damaged_regressor(data["regressor"], tmp_path / "r.pt", how)
        code = evaluate_regressor.main(["--model", str(bad), "--data", str(data["lift32"])])
    elif loader == "bc":
        bad = _damaged_bc(bc["ckpt"], tmp_path / "b.pt", how)
        code = rollout.main(["--env", REACH, "--episodes", "1", "--policy", str(bad),
                             "--no-progress"])  # fmt: skip
    else:
        code = sample_gan.main(["--model", str(data["regressor"]), "--out", str(tmp_path / "t")])
    assert code == 2
    line = one_line_error(capsys, *words)
    if loader == "gan":  # the hint must not suggest overwriting the file it could not read
        assert f"--out {data['regressor']}" not in line
