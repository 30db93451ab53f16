"""The files of an export folder and how they are written: every file under a temporary
name, then renamed, so a reader or a crash sees the old file or the new one, never a part."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from envs.dataset.config import ExportError
from envs.files import write_atomic

MANIFEST = "manifest.json"
SUBFOLDERS = ("rgb", "instances", "labels", "depth")
EXPORT_ENTRIES = frozenset(  # what an export writes at its top level (--overwrite may delete)
    (*SUBFOLDERS, "bop", MANIFEST, "samples.jsonl", "annotations.json", "preview.png")
)
TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")  # what write_file writes before renaming


def dump(obj: Any) -> str:
    """Compact JSON with sorted keys: the same record always gives the same bytes."""
    # records are trees (no cycles): skipping the cycle check makes dumping ~30% faster
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), check_circular=False)


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename: a reader (or a
    crash, a full disk, ``ulimit -f``) sees the old file or the new one, never a part."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; free space or raise the "
            "file-size limit (ulimit -f), check the folder's permissions, then rerun"
        ) from None


def make_folder(folder: Path) -> None:
    """``mkdir -p``; :class:`ExportError` naming the folder when that fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create folder {str(folder)!r}: {exc.strerror or exc}; choose an --out "
            "in a folder you can write to"
        ) from None


def remove_temporaries(out: Path, cameras: Sequence[str] = ()) -> None:
    """Delete the temporary files of writes that a killed process never renamed (in the
    ``cameras`` subfolders of a several-camera export too)."""
    subs = [out / sub for sub in (*SUBFOLDERS, "bop")]
    views = [out / sub / name for sub in ("rgb", "instances", "depth") for name in cameras]
    for folder in (out, *subs, *views):
        if folder.is_dir():
            for path in folder.glob(".*.tmp"):
                if TEMPORARY.match(path.name) and path.is_file():
                    path.unlink(missing_ok=True)


def listing(folder: Path, limit: int = 5) -> str:
    """A few entries of ``folder`` ('thesis.tex, src/, ... (12 entries)')."""
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError as exc:
        return f"(unreadable: {exc.strerror})"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} entries)" if len(names) > limit else "")
