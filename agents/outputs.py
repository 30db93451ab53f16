"""Output paths checked before any work: a checkpoint file that may be written (and would
not overwrite a checkpoint of another kind), or a writable folder.

Every training and evaluation script calls these first, so that a wrong ``--out`` fails in
a second with a one-line :class:`OutputPathError` instead of after hours of training.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from agents.policies.contract import META_MEMBER

CHECKPOINT_KINDS: dict[str, str] = {
    "sb3": "Stable-Baselines3 policy",
    "bc": "behaviour-cloning policy",
    "regressor": "pose-regressor",
    "gan": "appearance-GAN",
    "localizer": "localizer",
    "verifier": "localizer-verifier",
    "refiner": "localizer-refiner",
    "translator": "image-translator",
}
"""every checkpoint kind the training scripts write, with the words that describe it"""
_PT_FORMATS = {"domrand-bc-policy": "bc", "domrand-pose-regressor": "regressor", "domrand-gan": "gan",
               "domrand-localizer": "localizer", "domrand-verifier": "verifier",
               "domrand-refiner": "refiner", "domrand-translator": "translator"}  # fmt: skip


class OutputPathError(ValueError):
    """An output path that cannot or must not be written (checked before any work)."""


def checkpoint_kind(path: str | Path) -> str | None:
    """The kind (a key of :data:`CHECKPOINT_KINDS`) of the domrand checkpoint at ``path``;
    None for a missing, unreadable or foreign file. Reads with ``weights_only=True``."""
    p = Path(path).expanduser()
    if not p.is_file():
        return None
    if zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as archive:
                if META_MEMBER in archive.namelist():
                    data = json.loads(archive.read(META_MEMBER).decode())
                    if isinstance(data, dict) and data.get("kind") == "sb3":
                        return "sb3"
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return None
    try:
        import torch

        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # anything torch cannot read safely is not one of ours
        return None
    fmt = payload.get("format") if isinstance(payload, dict) else None
    return _PT_FORMATS.get(fmt) if isinstance(fmt, str) else None


def check_output_file(
    path: str | Path,
    *,
    kind: str,
    suffixes: tuple[str, ...],
    force: bool = False,
    flag: str = "--out",
) -> Path:
    """Check, before any training, that a checkpoint can be written to ``path``: the suffix
    is one of ``suffixes``, ``path`` is not a folder, its folder exists (or can be made) and
    is writable, and an existing file there is a checkpoint of the same ``kind`` (replaced)
    unless ``force``. Raises :class:`OutputPathError` with a one-line reason."""
    p = Path(path).expanduser()
    what = CHECKPOINT_KINDS[kind]
    if p.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"{flag} must end in {' or '.join(suffixes)} (a {what} checkpoint), got {str(p)!r}"
        )
    if p.is_dir():
        raise OutputPathError(
            f"{flag} {str(p)!r} is an existing folder, but a {what} checkpoint is a file; "
            f"give a file path such as {str(p / ('model' + suffixes[0]))!r}"
        )
    if p.exists() and not force:
        found = checkpoint_kind(p)
        if found != kind:
            it = f"a {CHECKPOINT_KINDS[found]} checkpoint" if found else "not a domrand checkpoint"
            raise OutputPathError(
                f"{flag} {str(p)!r} already exists and is {it}, not a {what} checkpoint; "
                f"refusing to overwrite it: choose another path, or pass --force to replace it"
            )
    _check_writable_folder(p.parent, flag, str(p))
    return p


def check_output_dir(path: str | Path, *, flag: str = "--out") -> Path:
    """Check, before any work, that ``path`` is a folder (or can be made) and is writable.
    Raises :class:`OutputPathError` with a one-line reason."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputPathError(
            f"{flag} {str(p)!r} is an existing file, but a folder is expected here; "
            f"give a folder path (it is created if missing)"
        )
    _check_writable_folder(p, flag, str(p))
    return p


def _check_writable_folder(folder: Path, flag: str, target: str) -> None:
    """The nearest existing ancestor of ``folder`` is a folder we can create files in."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(
            f"{flag} {target!r}: {str(existing)!r} is a file, not a folder, so nothing can be "
            f"written below it; choose another path"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".domrand-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(
            f"{flag} {target!r}: the folder {str(existing)!r} is not writable "
            f"({exc.strerror or type(exc).__name__}); choose a writable location"
        ) from None
