"""Resuming an interrupted export: refuse a folder made with other settings or other source
files, find the finished samples and redo the damaged ones."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from envs.dataset.config import ExportConfig, ExportError
from envs.dataset.layout import MANIFEST
from envs.dataset.manifest import changed_source, check_is_export

NOT_COMPARED = ("num_images", "format", "sources")  # keys a resume may change or checks apart
_ABSENT = object()  # a key the first run's manifest does not have


def _comparable(key: str, value: Any) -> Any:
    """What a resume compares: a preset by its contents (and randomizers), not by the name
    or path it was given by (``ph/p.yaml`` and ``../ph/p.yaml`` are the same preset)."""
    if key == "preset" and isinstance(value, dict) and "contents" in value:
        return {k: v for k, v in value.items() if k != "name"}
    return value


def _shown(key: str, value: Any, limit: int = 60) -> str:
    """A short form of a manifest value for an error message."""
    if value is _ABSENT:
        return "(not recorded)"
    if key == "preset" and isinstance(value, dict):
        digest = hashlib.sha256(str(value.get("contents", "")).encode()).hexdigest()[:12]
        return f"{value.get('name')!r} (contents sha256 {digest}...)"
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_resume(out: Path, manifest: dict[str, Any]) -> None:
    """Refuse to resume into ``out`` unless it is an export with the same settings and the
    same source files (what ``manifest`` says now)."""
    path = out / MANIFEST
    if not path.exists():
        samples = [p for sub in ("labels", "rgb") for p in (out / sub).glob("*") if p.is_file()]
        if samples:
            raise ExportError(
                f"cannot resume {str(out)!r}: it holds {len(samples)} sample files (labels/, "
                f"rgb/) but no {MANIFEST}, so the seed and preset they were made with are "
                "unknown; export to a new folder, or delete it yourself and start again"
            )
        if any(p.is_file() for p in out.rglob("*")):
            check_is_export(out, "resume into")  # raises, naming what is there
        return  # only empty folders: the first run stopped before writing anything
    old = check_is_export(out, "resume into")
    changed = sorted(
        k
        for k in manifest
        if k not in NOT_COMPARED and _comparable(k, old.get(k)) != _comparable(k, manifest[k])
    )
    if changed:
        shown = "; ".join(
            f"{k}: {_shown(k, old.get(k, _ABSENT))} then, {_shown(k, manifest[k])} now"
            for k in changed
        )
        raise ValueError(
            f"cannot resume {str(out)!r}: settings differ from the first run in {changed} "
            f"({shown}); rerun with the first run's settings, or export to a new folder"
        )
    if "sources" not in old:
        if manifest["sources"]:
            raise ExportError(
                f"cannot resume {str(out)!r}: {str(path)!r} records no content hashes of the "
                "photos and GAN checkpoints the preset reads (an older exporter wrote it), so "
                "a changed file would go unnoticed; export to a new folder or pass --overwrite"
            )
        return
    why = changed_source(old["sources"], manifest["sources"])
    if why is not None:
        raise ExportError(
            f"cannot resume {str(out)!r}: {why} since the first run, so new samples would "
            "come from other textures; restore the file, or export to a new folder"
        )


def _sample_problem(out: Path, index: int, config: ExportConfig) -> str | None:
    """Why the finished sample ``index`` is broken (its label does not parse or an image it
    references, of any camera, does not decode at the export's size), or None when whole."""
    stem = f"{index:06d}"
    label = out / "labels" / f"{stem}.json"
    try:
        record = json.loads(label.read_bytes())
    except (OSError, ValueError):
        return f"{label} is not valid JSON"
    if not isinstance(record, dict) or record.get("index") != index:
        return f"{label} is not the record of sample {index}"
    subs = ("rgb", "instances", *(("depth",) if config.depth else ()))
    height, width = config.shape
    names = config.camera_names
    views = [(record, stem)] if names is None else []
    if names is not None:
        found = record.get("views")
        if not isinstance(found, dict) or sorted(found) != sorted(names):
            return f"{label} does not hold the views of cameras {names}"
        views = [(found[n], f"{n}/{stem}") for n in names]
    for view, name in views:
        for sub in subs:
            rel = f"{sub}/{name}.png"
            if not isinstance(view, dict) or view.get(sub) != rel:
                return f"{label} does not reference {rel}"
            try:
                with Image.open(out / rel) as im:
                    im.load()
                    size = im.size
            except Exception:
                return f"{out / rel} does not decode as a PNG"
            if size != (width, height):
                expected = str(width) if width == height else f"{width}x{height}"
                return f"{out / rel} is {size[0]}x{size[1]} px, expected {expected}"
    return None


def _labelled(out: Path, num_images: int) -> set[int]:
    """Indices below ``num_images`` whose label file exists: one listing of labels/ (never
    one probe per index, nor a structure the size of ``num_images``)."""
    done: set[int] = set()
    try:
        entries = os.scandir(out / "labels")
    except FileNotFoundError:
        return done
    with entries:
        for entry in entries:
            stem, _, ext = entry.name.partition(".")
            if ext == "json" and stem.isascii() and stem.isdigit() and len(stem) >= 6:
                i = int(stem)
                if i < num_images and f"{i:06d}" == stem:
                    done.add(i)
    return done


def finished_samples(out: Path, config: ExportConfig, note: Callable[[str], None]) -> set[int]:
    """Indices whose label exists; on resume, broken samples are dropped (to be redone)."""
    done = _labelled(out, config.num_images)
    if not config.resume:
        return done
    broken = {i: why for i in sorted(done) if (why := _sample_problem(out, i, config))}
    for i in broken:
        (out / "labels" / f"{i:06d}.json").unlink()
    if broken:
        first = next(iter(broken.values()))
        note(f"resume: redoing {len(broken)} damaged sample(s) {sorted(broken)} ({first})")
    return done - set(broken)
