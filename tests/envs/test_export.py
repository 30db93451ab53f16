"""Export settings and their limits, the script and its one-line errors, the manifest, the
contact sheet and the preview script."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from tests.envs.test_export_support import one_line_error, reference_export, run_script, tree


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_images": 0}, "num_images must be >= 1"),
        ({"formats": ("voc",)}, r"unknown format\(s\) \['voc'\]; allowed: coco, bop"),
        ({"steps": -1}, "steps must be >= 0"),
        ({"steps": 5, "max_steps": 2}, r"max_steps must be >= steps \(5\), got 2"),
        ({"png_level": 10}, r"png_level must be an int in 0..9 \(zlib\), got 10"),
        ({"png_level": True}, r"png_level must be an int in 0..9 \(zlib\), got True"),
    ],
)
def test_bad_export_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExportConfig(**kwargs)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="allowed: local, ray"):
        ExportConfig(backend="dask")


def test_script(tmp_path, capsys) -> None:
    from scripts import export_dataset as script

    out = tmp_path / "s"
    args = [
        "--num-images",
        "3",
        "--size",
        "32",
        "--out",
        str(out),
        "--format",
        "coco",
        "--no-progress",
    ]
    assert script.main(args) == 0
    assert (out / "annotations.json").exists()
    assert "wrote 3 samples" in capsys.readouterr().out
    assert script.main(args) == 2  # not empty and no --resume
    assert "pass resume=True" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["x", "3:", "5:2", "-1"])
def test_script_refuses_a_bad_step_range(text: str, capsys) -> None:
    from scripts import export_dataset as script

    with pytest.raises(SystemExit):
        script.main(["--out", "unused", "--steps", text])
    assert "argument --steps: expected" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--size", "4096"], "size must be 1..2048 px per side, got 4096"),
     (["--size", "0"], "size must be 1..2048 px per side, got 0"),
     (["--size", "-8"], "size must be 1..2048 px per side, got -8"),
     (["--seed", "-1"], "seed must be >= 0, got -1")],
    ids=["size-above-max", "size-zero", "size-negative", "seed-negative"],
)  # fmt: skip
def test_limits_fail_before_anything_is_created(
    args: list[str], expected: str, tmp_path: Path, capsys: Any
) -> None:
    out = tmp_path / "never"
    code, err = run_script(["--out", str(out), "--num-images", "2", *args], capsys)
    assert code == 2 and expected in one_line_error(err)
    assert not out.exists()


@pytest.mark.parametrize("num", ["10000000000", "10000001"], ids=["ten-billion", "max-plus-one"])
def test_num_images_has_an_upper_bound(num: str, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "big"
    code, err = run_script(["--out", str(out), "--num-images", num, "--size", "8"], capsys)
    line = one_line_error(err)
    assert code == 2 and "num_images must be >= 1 and <= 10,000,000 per export" in line
    assert "split a larger dataset into several exports" in line
    assert not out.exists()


def _read_only(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder nobody may write into (root ignores mode bits: the OS's answer is patched in)."""
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() != 0:
        return

    def refuse(real: Callable[..., Any]) -> Callable[..., Any]:
        def patched(self: Path, *args: Any, **kwargs: Any) -> Any:
            if self.is_relative_to(out) and self != out:
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        return patched

    for name in ("mkdir", "write_bytes", "write_text", "touch"):
        monkeypatch.setattr(Path, name, refuse(getattr(Path, name)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [("read-only-folder", "Permission denied"), ("out-is-a-file", "is an existing file"),
     ("out-under-a-file", "cannot create folder"), ("ray-not-installed", "needs Ray")],
    ids=["read-only-folder", "out-is-a-file", "out-under-a-file", "ray-not-installed"],
)  # fmt: skip
def test_script_errors_are_one_line(
    case: str, expected: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "o"
    extra: list[str] = []
    if case == "read-only-folder":
        _read_only(out, monkeypatch)
    elif case == "out-is-a-file":
        out.write_text("notes")
    elif case == "out-under-a-file":
        (tmp_path / "file").write_text("notes")
        out = tmp_path / "file" / "o"
    else:
        monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
        extra = ["--backend", "ray"]
    before = tree(tmp_path)
    code, err = run_script(["--out", str(out), "--num-images", "2", "--size", "16", *extra], capsys)
    line = one_line_error(err)
    assert code == 2 and expected in line
    assert str(out) in line or case == "ray-not-installed"
    assert tree(tmp_path) == before  # nothing written
    if case == "ray-not-installed":
        assert not out.exists()
        code, _ = run_script(["--out", str(out), "--num-images", "2", "--size", "16"], capsys)
        assert code == 0  # a plain rerun works


def test_manifest_records_a_preset_file_given_by_path(tmp_path) -> None:
    preset = tmp_path / "mine.yaml"
    preset.write_text("camera:\n  roll: [-2, 2]\n")
    out = export_dataset(
        ExportConfig(num_images=1, size=32, preset=str(preset), out=str(tmp_path / "d")),
        progress=False,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["preset"]["contents"] == preset.read_text()


def test_overwrite_and_contact_sheet(tmp_path) -> None:
    out = tmp_path / "o"
    export_dataset(ExportConfig(num_images=3, size=32, out=str(out)), progress=False)
    (out / "stale.txt").write_text("old")  # a file an export never writes: refused, kept
    config = ExportConfig(num_images=3, size=32, out=str(out), overwrite=True)
    with pytest.raises(RuntimeError, match=r"refusing to overwrite .*it holds stale\.txt"):
        export_dataset(config, progress=False)
    assert (out / "stale.txt").read_text() == "old"
    (out / "stale.txt").unlink()  # moved away: now the overwrite goes ahead
    export_dataset(config, progress=False)
    with Image.open(out / "preview.png") as im:
        width, height = im.size  # 3 tiles of 32 px x2 on a 2 x 2 sheet, 2 px apart, captioned
    assert width == 2 * (64 + 2) + 2 and height > width and (height - width) % 2 == 0
    from scripts import preview

    assert (
        preview.main(["--dataset", str(out), "--num", "2", "--out", str(tmp_path / "s.png")]) == 0
    )
    with pytest.raises(ValueError, match="exclude each other"):
        ExportConfig(resume=True, overwrite=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that the damaged copies must return to."""
    return reference_export(tmp_path_factory)


def _corrupt_line(d: Path) -> None:
    lines = (d / "samples.jsonl").read_text().splitlines()
    (d / "samples.jsonl").write_text(lines[0] + "\n" + lines[1][:40] + "\n")


def _record_without_keys(d: Path) -> None:
    (d / "samples.jsonl").write_text("{}\n")


@pytest.mark.parametrize(
    ("case", "argv", "expected"),
    [("num-zero", ["--num", "0"], "--num must be 1..1024, got 0"),
     ("num-negative", ["--num", "-2"], "--num must be 1..1024, got -2"),
     ("out-folder-missing", ["--out", "{tmp}/missing/p.png"], "does not exist; create it"),
     ("out-unknown-extension", ["--out", "{tmp}/p.txt"], "unknown image extension '.txt'"),
     ("out-is-a-folder", ["--out", "{tmp}"], "is a folder"),
     ("samples-line-corrupt", [], "samples.jsonl' line 2 is not valid JSON"),
     ("samples-record-without-keys", [], "samples.jsonl' line 1: expected a sample record"),
     ("grid-seed-negative", ["--seed", "-1"], "--seed must be >= 0, got -1"),
     ("grid-size-above-max", ["--size", "4096"], "--size must be 1..2048 px, got 4096")],
    ids=["num-zero", "num-negative", "out-folder-missing", "out-unknown-extension",
         "out-is-a-folder", "samples-line-corrupt", "samples-record-without-keys",
         "grid-seed-negative", "grid-size-above-max"],
)  # fmt: skip
def test_preview_script_errors(
    case: str, argv: list[str], expected: str, reference: Path, tmp_path: Path, capsys: Any
) -> None:
    from scripts import preview

    data = Path(shutil.copytree(reference, tmp_path / "data"))
    if case == "samples-line-corrupt":
        _corrupt_line(data)
    elif case == "samples-record-without-keys":
        _record_without_keys(data)
    args = ["--out", str(tmp_path / "sheet.png"), "--num", "2"]
    if not case.startswith("grid-"):
        args += ["--dataset", str(data)]
    args += [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert preview.main(args) == 2
    line = one_line_error(capsys.readouterr().err)
    assert expected in line
    assert not (tmp_path / "sheet.png").exists()
