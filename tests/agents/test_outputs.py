"""Output paths are checked before any work: suffix, folder vs file, writability, and an
existing checkpoint of another kind is not overwritten without ``force``."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from agents.outputs import OutputPathError, check_output_dir, check_output_file, checkpoint_kind
from agents.policies.contract import META_MEMBER


def _sb3_like(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(META_MEMBER, json.dumps({"kind": "sb3"}))
    return path


def test_checkpoint_kind_reads_zip_meta_and_pt_format(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    assert checkpoint_kind(_sb3_like(tmp_path / "a.zip")) == "sb3"
    torch.save({"format": "domrand-localizer"}, tmp_path / "loc.pt")
    assert checkpoint_kind(tmp_path / "loc.pt") == "localizer"
    torch.save({"format": "someone-else"}, tmp_path / "other.pt")
    assert checkpoint_kind(tmp_path / "other.pt") is None
    (tmp_path / "text.pt").write_text("not torch")
    assert checkpoint_kind(tmp_path / "text.pt") is None
    assert checkpoint_kind(tmp_path / "missing.zip") is None


def test_check_output_file_rules(tmp_path: Path) -> None:
    good = tmp_path / "new" / "model.zip"
    assert check_output_file(good, kind="sb3", suffixes=(".zip",)) == good
    with pytest.raises(OutputPathError, match=r"--out must end in \.zip"):
        check_output_file(tmp_path / "model.pt", kind="sb3", suffixes=(".zip",))
    folder = tmp_path / "dir.zip"
    folder.mkdir()
    with pytest.raises(OutputPathError, match="is an existing folder"):
        check_output_file(folder, kind="sb3", suffixes=(".zip",))
    same = _sb3_like(tmp_path / "same.zip")
    assert check_output_file(same, kind="sb3", suffixes=(".zip",)) == same  # replaced
    foreign = tmp_path / "notes.zip"
    foreign.write_text("mine")
    with pytest.raises(OutputPathError, match=r"--model .*notes\.zip.* is not a domrand checkpoint.*--force"):
        check_output_file(foreign, kind="sb3", suffixes=(".zip",), flag="--model")
    assert check_output_file(foreign, kind="sb3", suffixes=(".zip",), force=True) == foreign
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_output_file(blocker / "sub" / "m.zip", kind="sb3", suffixes=(".zip",))


def test_check_output_dir_rules(tmp_path: Path) -> None:
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checked, not created
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputPathError, match="is an existing file"):
        check_output_dir(tmp_path / "f", flag="--out-dir")
