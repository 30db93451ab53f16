"""--overwrite replaces only an export, only once the new one is complete: symlinks, killed
swaps, stale folders, the current folder and foreign files."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from envs.dataset.config import ExportConfig, ExportError
from envs.dataset.export import export_dataset
from tests.envs.test_export_support import (
    SIZE,
    N,
    copy_of,
    deadline,
    export_small,
    fail_at,
    kill_at,
    one_line_error,
    reference_export,
    run_script,
    tree,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted export (6 images, 32 px) that the damaged copies must return to."""
    return reference_export(tmp_path_factory)


@pytest.fixture
def copy(reference: Path, tmp_path: Path) -> Path:
    """A private copy of the reference export."""
    return copy_of(reference, tmp_path)


def _thesis(d: Path, reference: Path) -> str:
    (d / "thesis.tex").write_text("\\chapter{Results}")
    (d / "src").mkdir()
    (d / "src" / "main.py").write_text("print('mine')")
    return "no manifest.json"


def _manifest_not_json(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text("{oops")
    (d / "results.csv").write_text("a,b\n1,2\n")
    return "is not valid JSON"


def _manifest_list(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text("[1, 2]")
    (d / "results.csv").write_text("a,b\n1,2\n")
    return "holds a JSON list"


def _manifest_of_another_tool(d: Path, reference: Path) -> str:
    (d / "manifest.json").write_text('{"name": "my-web-app", "version": "1.0"}')
    (d / "index.html").write_text("<html></html>")
    return "is not an export manifest"


def _samples_without_manifest(d: Path, reference: Path) -> str:
    for sub in ("labels", "rgb"):
        shutil.copytree(reference / sub, d / sub)
    return "no manifest.json"


@pytest.mark.parametrize(
    "make",
    [_thesis, _manifest_not_json, _manifest_list, _manifest_of_another_tool,
     _samples_without_manifest],
    ids=["thesis-and-src", "manifest-not-json", "manifest-a-list", "manifest-of-another-tool",
         "samples-without-manifest"],
)  # fmt: skip
def test_overwrite_refuses_a_folder_that_is_not_an_export(
    make: Callable[[Path, Path], str], reference: Path, tmp_path: Path, capsys: Any
) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    why = make(d, reference)
    before = tree(d)
    code, err = run_script(["--out", str(d), "--overwrite", "--num-images", "2", "--size", "32"],
                        capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and why in line
    assert tree(d) == before
    first = sorted(p.name for p in d.iterdir())[0]
    assert first in line  # names what is there


@pytest.mark.parametrize(
    ("make", "shown"),
    [(lambda d: (d / "notes.txt").write_text("important"), "notes.txt"),
     (lambda d: (d / "analysis").mkdir() or (d / "analysis" / "fit.py").write_text("1"),
      "analysis/"),
     (lambda d: (d / ".notes").write_text("important"), ".notes")],
    ids=["a-text-file", "a-folder", "a-hidden-file"],
)  # fmt: skip
def test_overwrite_refuses_an_export_holding_other_files(
    make: Callable[[Path], Any], shown: str, copy: Path, capsys: Any
) -> None:
    make(copy)
    before = tree(copy)
    code, err = run_script(["--out", str(copy), "--overwrite", "--num-images", "2", "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and f"holds {shown}," in line
    assert "move them out of the folder" in line
    assert tree(copy) == before


@pytest.mark.parametrize(
    ("workers", "breaks"),
    [(1, fail_at), (2, kill_at)],
    ids=["a-sample-fails", "a-worker-is-killed"],
)
def test_a_failed_overwrite_keeps_the_old_dataset(
    workers: int, breaks: Callable[[pytest.MonkeyPatch, int], None], copy: Path,
    reference: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    breaks(monkeypatch, 1)
    with deadline(60), pytest.raises(ExportError, match="nothing was replaced"):
        export_small(copy, num_images=4, seed=3, workers=workers, overwrite=True)
    assert tree(copy) == tree(reference)
    assert sorted(p.name for p in copy.parent.iterdir()) == ["data"]  # no partial folder left


def test_overwrite_replaces_an_export_old_manifest_or_new(copy: Path, tmp_path: Path) -> None:
    """A manifest without the "format" marker (older exporter) is still recognized."""
    manifest = json.loads((copy / "manifest.json").read_text())
    for key in ("format", "sources"):
        manifest.pop(key)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    export_small(copy, num_images=2, seed=3, overwrite=True)
    assert json.loads((copy / "manifest.json").read_text())["format"] == "domrand-export"
    assert len(list((copy / "labels").iterdir())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    export_small(copy, num_images=2, seed=4, overwrite=True)  # a new-style manifest too
    assert json.loads((copy / "manifest.json").read_text())["seed"] == 4


@pytest.mark.parametrize("kind", ["partial", "old"])
def test_overwrite_removes_folders_a_killed_overwrite_left(
    kind: str, copy: Path, tmp_path: Path
) -> None:
    stale = tmp_path / f".data.{kind}-999999999"  # above any pid_max: no such process
    shutil.copytree(copy, stale)
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(copy), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
    assert any(str(stale) in n and "left behind" in n for n in notes), notes


@pytest.mark.parametrize("relative", [False, True], ids=["absolute-link", "relative-link"])
def test_overwrite_through_a_symlink_swaps_the_real_folder(
    relative: bool, copy: Path, tmp_path: Path, capsys: Any
) -> None:
    links = tmp_path / "links"
    links.mkdir()
    link = links / "link"
    link.symlink_to(os.path.relpath(copy, links) if relative else copy)
    for seed in ("3", "4"):
        code, err = run_script(["--out", str(link), "--overwrite", "--num-images", "2", "--size",
                             str(SIZE), "--seed", seed], capsys)  # fmt: skip
        assert code == 0 and "note:" not in err, err  # nothing stale, no phantom "removed"
        assert link.is_symlink() and link.resolve() == copy.resolve()
        assert json.loads((copy / "manifest.json").read_text())["seed"] == int(seed)
        assert sorted(p.name for p in (copy / "labels").iterdir()) == [
            "000000.json", "000001.json"
        ]  # fmt: skip
        assert sorted(p.name for p in links.iterdir()) == ["link"]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "links"]


@pytest.mark.parametrize("dangling", [False, True], ids=["link-to-a-folder", "dangling-link"])
def test_overwrite_unlinks_stale_symlinks(dangling: bool, copy: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    stale = tmp_path / ".data.old-999999999"  # as an overwrite through a symlink once left
    stale.symlink_to(tmp_path / "gone" if dangling else elsewhere)
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(copy), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert not stale.is_symlink() and (elsewhere / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "elsewhere"]
    assert notes == [f"removed {str(stale)!r}, left behind by an overwrite that was killed"]


@pytest.mark.parametrize("case", ["resume", "overwrite", "two-old-folders"])
def test_a_swap_killed_between_its_renames_is_undone(
    case: str, copy: Path, reference: Path, tmp_path: Path, capsys: Any
) -> None:
    """Killed after ``out -> .out.old-<pid>`` and before ``.out.partial-<pid> -> out``."""
    old = tmp_path / ".data.old-999999999"
    shutil.copytree(copy, tmp_path / ".data.partial-999999999")
    copy.rename(old)
    if case == "two-old-folders":
        shutil.copytree(old, tmp_path / ".data.old-999999998")
    before = tree(tmp_path)
    flags = ["--overwrite", "--seed", "3"] if case == "overwrite" else ["--resume"]
    code, err = run_script(["--out", str(copy), *flags, "--num-images", str(N), "--size",
                         str(SIZE)], capsys)  # fmt: skip
    if case == "two-old-folders":
        line = one_line_error(err)
        assert code == 2 and "several old datasets" in line and str(old) in line
        assert tree(tmp_path) == before  # nothing deleted while out is missing
        return
    assert code == 0 and f"note: restored {str(copy)!r} from {str(old)!r}" in err, err
    assert not old.exists()
    if case == "resume":
        assert tree(copy) == tree(reference)
    else:
        assert json.loads((copy / "manifest.json").read_text())["seed"] == 3
        assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # stale partial removed


@pytest.mark.parametrize(
    ("out_arg", "cwd", "where"),
    [(".", "", "the current folder"), ("..", "labels", "a folder above the current one")],
    ids=["dot", "dot-dot"],
)
def test_overwrite_of_the_current_folder_is_refused_before_any_work(
    out_arg: str, cwd: str, where: str, copy: Path, tmp_path: Path, capsys: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(copy / cwd)
    before = tree(tmp_path)
    t0 = time.perf_counter()
    code, err = run_script(["--out", out_arg, "--overwrite", "--num-images", "2", "--size",
                         str(SIZE)], capsys)  # fmt: skip
    line = one_line_error(err)
    assert code == 2 and "refusing to overwrite" in line and where in line and "cd " in line
    assert time.perf_counter() - t0 < 5  # before any export work
    assert tree(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    ("name", "lookalike"),
    [("run[1]", "run1"), ("run*", "runX"), ("run?", "runs")],
    ids=["brackets", "star", "question-mark"],
)
def test_stale_cleanup_matches_the_name_literally(
    name: str, lookalike: str, copy: Path, tmp_path: Path
) -> None:
    out = copy.rename(tmp_path / name)
    other = tmp_path / f".{lookalike}.old-999999999"  # another dataset's: not to be touched
    shutil.copytree(out / "labels", other)
    own = tmp_path / f".{name}.old-999999999"
    own.mkdir()
    notes: list[str] = []
    export_dataset(ExportConfig(num_images=2, size=SIZE, out=str(out), overwrite=True),
                   progress=False, note=notes.append)  # fmt: skip
    assert other.is_dir() and len(list(other.iterdir())) == N
    assert not own.exists() and len(notes) == 1 and str(own) in notes[0]
