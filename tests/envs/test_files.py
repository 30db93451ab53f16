"""Atomic writes keep the previous file when a write fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.files import write_atomic


def test_write_atomic_replaces_text_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    write_atomic(path, "old")
    write_atomic(path, b"new")
    assert path.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["results.json"]


@pytest.mark.parametrize("where", ["write", "rename"])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch, where: str
) -> None:
    path = tmp_path / "table.md"
    path.write_text("old table")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text" if where == "write" else "replace", fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new table")
    monkeypatch.undo()
    assert path.read_text() == "old table"
    assert [p.name for p in tmp_path.iterdir()] == ["table.md"]
