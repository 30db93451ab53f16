"""``overwrite=True``: replace an export folder only once the new export has succeeded.

The new export is written to a hidden sibling ``.<name>.partial-<pid>`` of the resolved folder
(a symlinked ``out`` keeps pointing at the new data, on the same disk) and swapped in through
``.<name>.old-<pid>``. An overwrite killed between the two renames is undone by the next run,
which renames the old dataset back; folders a killed overwrite left are removed.
"""

from __future__ import annotations

import glob
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from envs.dataset.config import ExportError
from envs.dataset.layout import EXPORT_ENTRIES, TEMPORARY


def check_only_export_entries(out: Path) -> None:
    """Refuse to overwrite an export folder that also holds entries an export never writes
    (the user's notes, an analysis folder): --overwrite would delete them with it."""
    foreign = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in out.iterdir()
        if p.name not in EXPORT_ENTRIES and not TEMPORARY.match(p.name)
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} entries)" if len(foreign) > 5
                                          else "")  # fmt: skip
        raise ExportError(
            f"refusing to overwrite {str(out)!r}: it holds {shown}, which an export never "
            f"writes, and --overwrite would delete them; move them out of the folder (or "
            "choose another --out), then rerun"
        )


def swap_target(out: Path) -> Path:
    """The real folder an overwrite swaps: ``out`` with symlinks, ``.`` and ``..`` resolved
    (a symlinked ``out`` keeps pointing at the new data, on the same disk). Refuses, before
    any work, a folder that is or holds the current folder: the swap would delete it from
    under this process and the shell that started it."""
    target = out.resolve()
    cwd = Path.cwd().resolve()
    if not target.name or cwd == target or cwd.is_relative_to(target):
        where = "the current folder" if cwd == target else "a folder above the current one"
        raise ExportError(
            f"refusing to overwrite {str(out)!r}: it is {where} ({str(target)!r}), which the "
            f"swap would delete from under this shell; run from outside it (cd "
            f"{str(target.parent)!r}) and pass --out {target.name or '<name>'} --overwrite"
        )
    return target


def replace_folder(out: Path, write: Callable[[Path], None], note: Callable[[str], None]) -> Path:
    """Export into a hidden sibling folder with ``write(folder)``, then swap it in for ``out``
    (a resolved real folder, see :func:`swap_target`), whose old dataset is deleted only
    after the new one is complete."""
    parent, name = out.parent, out.name
    partial = parent / f".{name}.partial-{os.getpid()}"
    aside = parent / f".{name}.old-{os.getpid()}"
    assert not partial.is_relative_to(out), "the partial export must be a sibling"
    _remove_stale(parent, name, note)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        write(partial)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        if not isinstance(exc, Exception):
            raise
        raise ExportError(
            f"{exc}; nothing was replaced: {str(out)!r} still holds the old dataset (the "
            "partial export was removed)"
        ) from exc
    try:
        out.rename(aside)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ExportError(
            f"cannot move the old dataset {str(out)!r} aside: {exc.strerror or exc}; it is "
            "untouched"
        ) from None
    try:
        partial.rename(out)
    except OSError as exc:
        aside.rename(out)
        raise ExportError(
            f"cannot move the new export {str(partial)!r} to {str(out)!r}: "
            f"{exc.strerror or exc}; the old dataset is back in place"
        ) from None
    shutil.rmtree(aside, ignore_errors=True)
    return out


def _left_by_dead_overwrite(parent: Path, name: str, kind: str) -> list[Path]:
    """The ``.<name>.<kind>-<pid>`` entries of ``parent`` whose process no longer runs
    (``name`` is matched literally, never as a glob pattern)."""
    found = []
    for entry in sorted(parent.glob(f".{glob.escape(name)}.{kind}-*")):
        pid = entry.name.rsplit("-", 1)[1]
        if not pid.isascii() or not pid.isdigit() or int(pid) == os.getpid():
            continue
        if not (entry.is_symlink() or entry.is_dir()):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # that export still runs
        except ProcessLookupError:
            pass
        except OSError:
            continue
        found.append(entry)
    return found


def restore_interrupted_swap(out: Path, note: Callable[[str], None]) -> None:
    """When ``out`` is missing but an overwrite killed between its two renames left the old
    dataset as ``.<name>.old-<pid>``, rename it back (before anything else is done)."""
    try:
        target = out.resolve()
    except (OSError, RuntimeError):
        return
    if not target.name or target.exists() or target.is_symlink() or not target.parent.is_dir():
        return
    olds = _left_by_dead_overwrite(target.parent, target.name, "old")
    if len(olds) > 1:
        raise ExportError(
            f"{str(out)!r} is missing and overwrites killed during their swap left several "
            f"old datasets: {', '.join(repr(str(p)) for p in olds)}; rename the one to keep "
            f"to {str(target)!r}, then rerun"
        )
    if olds:
        try:
            olds[0].rename(target)
        except OSError as exc:
            raise ExportError(
                f"{str(out)!r} is missing and cannot be restored from {str(olds[0])!r} (left "
                f"by an overwrite killed during its swap): {exc.strerror or exc}; rename it "
                "back yourself, then rerun"
            ) from None
        note(f"restored {str(target)!r} from {str(olds[0])!r}, which an overwrite killed "
             "during its swap left behind")  # fmt: skip


def _remove_stale(parent: Path, name: str, note: Callable[[str], None]) -> None:
    """Remove the hidden ``.<name>.partial-<pid>`` / ``.<name>.old-<pid>`` folders that an
    overwrite killed by a signal left behind (their process no longer runs). Only while
    ``parent / name`` exists: an ``.old-`` folder may then be the only copy of the dataset.
    A stale entry that is a symlink is unlinked (its target is not touched)."""
    if not (parent / name).is_dir():
        return
    for kind in ("partial", "old"):
        for entry in _left_by_dead_overwrite(parent, name, kind):
            try:
                if entry.is_symlink():
                    entry.unlink()
                else:
                    shutil.rmtree(entry)
            except OSError as exc:
                note(f"cannot remove {str(entry)!r}, left behind by an overwrite that was "
                     f"killed: {exc.strerror or exc}; remove it yourself")  # fmt: skip
                continue
            note(f"removed {str(entry)!r}, left behind by an overwrite that was killed")
