"""--resume finishes an interrupted export to the same bytes, redoes damaged samples, and
refuses a folder made with other settings or without a manifest."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.dataset.config import ExportConfig
from envs.dataset.export import export_dataset
from envs.dataset.png import encode_png
from envs.dataset.resume import finished_samples
from tests.envs.test_export_support import (
    SIZE,
    N,
    copy_of,
    export_small,
    one_line_error,
    quiet,
    reference_export,
    run_script,
    tree,
)


def test_interrupted_export_resumes_to_the_same_bytes(tmp_path) -> None:
    full = export_dataset(
        ExportConfig(num_images=6, size=48, out=str(tmp_path / "full")), progress=False
    )
    part = tmp_path / "part"
    export_dataset(ExportConfig(num_images=6, size=48, out=str(part)), progress=False)
    for i in (2, 4):  # as if killed while these samples were in flight
        (part / "labels" / f"{i:06d}.json").unlink()
        (part / "rgb" / f"{i:06d}.png").write_bytes(b"truncated")
    (part / "samples.jsonl").unlink()
    with pytest.raises(FileExistsError, match="pass resume=True"):
        export_dataset(ExportConfig(num_images=6, size=48, out=str(part)), progress=False)
    export_dataset(ExportConfig(num_images=6, size=48, out=str(part), resume=True), progress=False)
    assert tree(full) == tree(part)
    with pytest.raises(ValueError, match=r"settings differ from the first run in \['size'\]"):
        export_dataset(
            ExportConfig(num_images=6, size=32, out=str(part), resume=True), progress=False
        )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that the damaged copies must return to."""
    return reference_export(tmp_path_factory)


@pytest.fixture
def copy(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference export."""
    return copy_of(reference, tmp_path)


@pytest.mark.parametrize("keep", ["labels-and-rgb", "rgb-only", "foreign-files"])
def test_resume_refuses_a_folder_without_a_manifest(keep: str, copy: Path, capsys: Any) -> None:
    (copy / "manifest.json").unlink()
    if keep == "rgb-only":
        shutil.rmtree(copy / "labels")
    if keep == "foreign-files":
        for sub in ("labels", "rgb", "instances"):
            shutil.rmtree(copy / sub)
        (copy / "samples.jsonl").unlink()
        (copy / "preview.png").unlink()
        (copy / "thesis.tex").write_text("\\chapter{Results}")
    before = tree(copy)
    code, err = run_script(["--out", str(copy), "--resume", "--seed", "7", "--num-images", "8",
                         "--size", "32"], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "no manifest.json" in line and str(copy) in line
    assert tree(copy) == before


@pytest.mark.parametrize(
    ("text", "why"),
    [("{not json", "is not valid JSON"), ("[1, 2, 3]", "holds a JSON list"),
     ('"a string"', "holds a JSON str"), ('{"pages": 3}', "is not an export manifest")],
    ids=["not-json", "a-list", "a-string", "an-object-of-another-tool"],
)  # fmt: skip
def test_resume_names_a_bad_manifest(text: str, why: str, copy: Path, capsys: Any) -> None:
    (copy / "manifest.json").write_text(text)
    before = tree(copy)
    code, err = run_script(["--out", str(copy), "--resume", "--num-images", str(N), "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and why in line and str(copy / "manifest.json") in line
    assert tree(copy) == before


def _png_of(shape: tuple[int, ...]) -> bytes:
    return encode_png(np.zeros(shape, dtype=np.uint8))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "label-truncated": lambda d: (d / "labels/000002.json").write_text('{"index": 2, "rgb"'),
    "label-a-list": lambda d: (d / "labels/000002.json").write_text("[2]"),
    "label-of-another-index": lambda d: shutil.copy(d / "labels/000001.json",
                                                    d / "labels/000002.json"),
    "rgb-truncated": lambda d: (d / "rgb/000002.png").write_bytes(
        (d / "rgb/000002.png").read_bytes()[:100]),
    "rgb-wrong-size": lambda d: (d / "rgb/000002.png").write_bytes(_png_of((16, 16, 3))),
    "rgb-not-a-png": lambda d: (d / "rgb/000002.png").write_bytes(b"\x00" * 64),
    "instances-missing": lambda d: (d / "instances/000002.png").unlink(),
}  # fmt: skip


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_resume_redoes_damaged_samples(damage: str, copy: Path, reference: Path) -> None:
    DAMAGE[damage](copy)
    (copy / "samples.jsonl").unlink()
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=N, size=SIZE, out=str(copy), resume=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert tree(copy) == tree(reference)
    assert any("redoing 1 damaged sample(s) [2]" in n for n in notes), notes


@pytest.mark.parametrize("folder", ["labels", "rgb", "top-level"])
def test_resume_removes_temporary_files_of_killed_writes(
    folder: str, copy: Path, reference: Path
) -> None:
    """A process killed inside ``_write_atomic`` leaves ``.<name>.<pid>.tmp`` behind."""
    (copy / "labels" / "000002.json").unlink()  # the sample whose write was cut
    name = {"labels": "labels/.000002.json", "rgb": "rgb/.000002.png",
            "top-level": ".samples.jsonl"}[folder]  # fmt: skip
    (copy / f"{name}.4242.tmp").write_bytes(b'{"index": 2, "rg')
    export_small(copy, resume=True)
    assert tree(copy) == tree(reference)


@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resume"])
def test_finished_samples_come_from_one_listing(resume: bool, copy: Path) -> None:
    """At the largest allowed size, finding the 6 finished samples lists labels/ once
    (it probed 10,000,000 paths, ~30 s, and built a set that size)."""
    config = ExportConfig(num_images=10_000_000, size=SIZE, out=str(copy), resume=resume)
    (copy / "labels" / "0000003.json").write_text("{}")  # a look-alike name: not index 3
    t0 = time.perf_counter()
    assert finished_samples(copy, config, quiet) == set(range(N))
    assert time.perf_counter() - t0 < 2


def _preset_case(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Change to the folder the resume runs from; return its --preset and --out arguments."""
    if case == "another-relative-path":
        (tmp_path / "sub").mkdir()
        monkeypatch.chdir(tmp_path / "sub")
        return ["--preset", "../ph/p.yaml", "--out", "../d"]
    if case == "absolute-path":
        return ["--preset", str(tmp_path / "ph" / "p.yaml"), "--out", "d"]
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "ph" / "p.yaml", tmp_path / "copy" / "p.yaml")
    return ["--preset", "copy/p.yaml", "--out", "d"]


@pytest.mark.parametrize("case", ["another-relative-path", "absolute-path", "a-copy-elsewhere"])
def test_resume_compares_the_preset_by_its_contents(
    case: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from randomizers.presets import preset_text

    (tmp_path / "ph").mkdir()
    (tmp_path / "ph" / "p.yaml").write_text(preset_text("tobin"))
    monkeypatch.chdir(tmp_path)
    size = ["--size", "16"]
    code, err = run_script(["--preset", "ph/p.yaml", "--out", "d", "--num-images", "2", *size],
                        capsys)  # fmt: skip
    assert code == 0, err
    args = _preset_case(case, tmp_path, monkeypatch)
    code, err = run_script([*args, "--resume", "--num-images", "4", *size], capsys)
    assert code == 0, err
    assert len(list((tmp_path / "d" / "labels").iterdir())) == 4


@pytest.mark.parametrize(
    ("argv", "shown"),
    [(["--seed", "7"], "seed: 0 then, 7 now"),
     (["--steps", "2"], "steps: 0 then, 2 now"),
     (["--preset", "none"], "preset: 'tobin' (contents sha256 ")],
    ids=["seed", "steps", "preset-contents"],
)  # fmt: skip
def test_resume_shows_old_and_new_values(
    argv: list[str], shown: str, copy: Path, capsys: Any
) -> None:
    before = tree(copy)
    code, err = run_script(["--out", str(copy), "--resume", "--num-images", str(N), "--size",
                         str(SIZE), *argv], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "settings differ from the first run in" in line and shown in line
    assert "then, 'none' (contents sha256" in line or "preset" not in shown
    assert tree(copy) == before
