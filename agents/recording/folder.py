"""The folder of a LeRobot recording: what it may hold, and the rules for writing into one
that is not empty (the exporter's: ``resume`` only with the same settings, ``overwrite`` only
of a dataset recorded by domrand that holds nothing else)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from envs.dataset.layout import listing

SETTINGS_FILE = "meta/domrand.json"
EPISODES_FILE = "meta/domrand_episodes.jsonl"
SETTINGS_FORMAT = "domrand-lerobot/1"
LEROBOT_ENTRIES = frozenset(("meta", "data", "videos", "images", "README.md"))
"""what a LeRobot dataset folder holds at its top level (``overwrite`` deletes only these)"""


class LeRobotRecordError(ValueError):
    """A LeRobot dataset folder that must not be written (checked before any episode)."""


def read_settings(root: Path) -> dict[str, Any] | None:
    """``meta/domrand.json`` of ``root`` (None when absent)."""
    path = root / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LeRobotRecordError(f"cannot read {str(path)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != SETTINGS_FORMAT:
        raise LeRobotRecordError(f"{str(path)!r} is not a domrand LeRobot settings file")
    return data


def check_folder(root: Path, settings: Any, *, resume: bool, overwrite: bool) -> int:
    """Refuse (before any episode) a folder the recording must not write; returns the
    episodes already recorded (resume) or 0."""
    if resume and overwrite:
        raise LeRobotRecordError("give --resume or --overwrite, not both")
    if root.exists() and not root.is_dir():
        raise LeRobotRecordError(
            f"--record-lerobot {str(root)!r} is an existing file; give a folder"
        )
    if not root.is_dir() or not any(root.iterdir()):
        if resume:
            raise LeRobotRecordError(
                f"cannot resume {str(root)!r}: it holds no dataset; drop --resume"
            )
        return 0
    if not (resume or overwrite):
        raise FileExistsError(
            f"{str(root)!r} is not empty; pass --resume to append episodes to the LeRobot "
            "dataset there (same settings), --overwrite to replace it, or choose another folder"
        )
    why = "resume" if resume else "overwrite"
    old = read_settings(root)
    if old is None or not (root / "meta" / "info.json").is_file():
        raise LeRobotRecordError(
            f"refusing to {why} {str(root)!r}: it is not a LeRobot dataset recorded by domrand "
            f"(no {SETTINGS_FILE} and meta/info.json; it holds {listing(root)}); choose another "
            "folder, or move its contents away yourself"
        )
    if overwrite:
        foreign = sorted(p.name for p in root.iterdir() if p.name not in LEROBOT_ENTRIES)
        if foreign:
            raise LeRobotRecordError(
                f"refusing to overwrite {str(root)!r}: it holds {', '.join(foreign[:5])}, which "
                "a LeRobot dataset never holds, and --overwrite would delete them; move them "
                "out of the folder (or choose another folder), then rerun"
            )
        return 0
    new = _json(asdict(settings))
    changed = sorted(k for k in new if old.get(k) != new[k])
    if changed:
        shown = "; ".join(f"{k}: {json.dumps(old.get(k))} then, {json.dumps(new[k])} now"
                          for k in changed)  # fmt: skip
        raise LeRobotRecordError(
            f"cannot resume {str(root)!r}: settings differ from the first run in {changed} "
            f"({shown}); rerun with the first run's settings, or record to a new folder"
        )
    info = json.loads((root / "meta" / "info.json").read_text())
    total = int(info.get("total_episodes", 0))
    rows = _rows(root) if (root / EPISODES_FILE).is_file() else []
    if len(rows) < total:
        raise LeRobotRecordError(
            f"cannot resume {str(root)!r}: {EPISODES_FILE} holds {len(rows)} episodes but the "
            f"dataset {total}; record to a new folder, or pass --overwrite"
        )
    if len(rows) > total:  # killed between our row and LeRobot's save: the row is redone
        (root / EPISODES_FILE).write_text("".join(json.dumps(r, sort_keys=True) + "\n"
                                                  for r in rows[:total]))  # fmt: skip
    return max((int(r["run_episode"]) + 1 for r in rows[:total]), default=0)


def _json(value: Any) -> Any:
    """JSON data of the settings (objects without a JSON form, e.g. a Randomizer, by ``str``)."""
    return json.loads(json.dumps(value, default=str))


def _rows(root: Path) -> list[dict[str, Any]]:
    lines = (root / EPISODES_FILE).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]
