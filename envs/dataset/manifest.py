"""An export's manifest: its settings, the preset's contents and the content hashes of every
photo and GAN checkpoint the preset reads; and telling an export folder from any other."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from envs.dataset.config import ExportConfig, ExportError
from envs.dataset.layout import MANIFEST, listing
from envs.objects.categories import declared_categories

MANIFEST_FORMAT = "domrand-export"  # the manifest's "format": marks a folder as an export
LEGACY_KEYS = ("env_id", "preset", "package_version", "num_images", "seed")  # older manifests
NOT_RECORDED = ("out", "workers", "resume", "overwrite", "backend", "address", "shard_size",
                "png_level")  # how the files are written, not what they hold
RECORDED_WHEN_SET = ("width", "height", "cameras", "env_kwargs")  # absent when None: older manifests match


def build_manifest(config: ExportConfig) -> dict[str, Any]:
    """The manifest of an export of ``config`` (what a resume must find unchanged)."""
    from importlib.metadata import PackageNotFoundError, version

    from randomizers.presets import load_preset, preset_label, preset_text

    preset: Any = None
    sources: dict[str, Any] = {}
    if config.preset is not None:
        compose = load_preset(config.preset)
        preset = {
            "name": preset_label(config.preset),
            "randomizers": [r.kind for r in compose.randomizers],
            "contents": preset_text(config.preset),  # named preset or a .yaml path alike
        }
        sources = source_files(compose)
    try:
        pkg = version("domrand")
    except PackageNotFoundError:
        pkg = "unknown"
    fields = asdict(config)
    for key in NOT_RECORDED:
        fields.pop(key)
    for key in RECORDED_WHEN_SET:
        if fields[key] is None:
            fields.pop(key)
    for key in ("cameras", "env_kwargs"):  # as JSON reads them back, for resume's compare
        if key in fields:
            fields[key] = json.loads(json.dumps(fields[key]))
    categories = declared_categories(config.env_id, config.preset, config.env_kwargs)
    return {**fields, "format": MANIFEST_FORMAT, "formats": list(config.formats),
            "preset": preset, "package_version": pkg, "categories": categories,
            "sources": sources}  # fmt: skip


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest at ``path`` as a dict; :class:`ExportError` naming the file when it
    cannot be read, is not JSON or is not a JSON object."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ExportError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ExportError(
            f"{str(path)!r} is not valid JSON ({exc}), so not a manifest this exporter wrote"
        ) from None
    if not isinstance(data, dict):
        raise ExportError(
            f"{str(path)!r} holds a JSON {type(data).__name__}, expected an export manifest "
            f"(an object with {', '.join(LEGACY_KEYS)})"
        )
    return data


def _is_export(manifest: dict[str, Any]) -> bool:
    """Whether a manifest was written by this exporter (a marker, or an older one's keys)."""
    return manifest.get("format") == MANIFEST_FORMAT or all(k in manifest for k in LEGACY_KEYS)


def check_is_export(out: Path, why: str) -> dict[str, Any]:
    """The manifest of the non-empty folder ``out``, or :class:`ExportError` naming what is
    there when ``out`` is not an export of this project (``why``: what was asked)."""
    path = out / MANIFEST
    fix = "choose another --out, or move its contents away yourself"
    if not path.is_file():
        raise ExportError(
            f"refusing to {why} {str(out)!r}: it has no {MANIFEST}, so it is not an export of "
            f"this project (it holds {listing(out)}); {fix}"
        )
    try:
        manifest = read_manifest(path)
    except ExportError as exc:
        raise ExportError(
            f"refusing to {why} {str(out)!r}: {exc} (the folder holds {listing(out)}); {fix}"
        ) from None
    if not _is_export(manifest):
        raise ExportError(
            f"refusing to {why} {str(out)!r}: {str(path)!r} is not an export manifest (no "
            f"'format': {MANIFEST_FORMAT!r} and not all of {', '.join(LEGACY_KEYS)}; the "
            f"folder holds {listing(out)}); {fix}"
        )
    return manifest


def _sha256(path: Path, cache: dict[str, str]) -> str:
    key = str(path)
    if key not in cache:
        digest = hashlib.sha256()
        try:
            with path.open("rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:
            raise ExportError(f"cannot read source file {key!r}: {exc.strerror or exc}") from None
        cache[key] = digest.hexdigest()
    return cache[key]


def _leaf_randomizers(randomizer: Any) -> Iterator[Any]:
    children = getattr(randomizer, "randomizers", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _leaf_randomizers(child)
    else:
        yield randomizer


def source_files(compose: Any) -> dict[str, dict[str, Any]]:
    """Content hashes of every file a loaded preset reads, per randomizer name: the photos of
    each texture bank's ``image_dir`` (by path relative to it) and its GAN checkpoint."""
    cache: dict[str, str] = {}
    sources: dict[str, dict[str, Any]] = {}
    for r in _leaf_randomizers(compose):
        bank = getattr(r, "bank", None)
        if bank is None:
            continue
        entry: dict[str, Any] = {}
        image_dir = getattr(bank, "image_dir", None)
        images = list(getattr(bank, "images", None) or [])
        if image_dir and images:
            root = Path(image_dir).expanduser()
            files = {}
            for image in images:
                path = Path(image)
                rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
                files[rel] = _sha256(path, cache)
            entry["image_dir"] = str(root)
            entry["images"] = dict(sorted(files.items()))
        gan_path = getattr(getattr(bank, "gan", None), "path", None)
        if gan_path is not None:
            entry["gan_checkpoint"] = str(gan_path)
            entry["gan_sha256"] = _sha256(Path(gan_path), cache)
        if entry:
            sources[str(getattr(r, "name", getattr(r, "kind", "randomizer")))] = entry
    return sources


def changed_source(old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """The first source file whose content differs between two manifests' ``sources``, as a
    sentence naming the file; None when all agree."""
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name, {}), new.get(name, {})
        oi, ni = o.get("images", {}), n.get("images", {})
        folder = Path(n.get("image_dir") or o.get("image_dir") or ".")
        for rel in sorted(set(oi) | set(ni)):
            if rel not in ni:
                return f"photo {str(folder / rel)!r} of randomizer {name!r} was removed"
            if rel not in oi:
                return f"photo {str(folder / rel)!r} of randomizer {name!r} was added"
            if oi[rel] != ni[rel]:
                return (f"photo {str(folder / rel)!r} of randomizer {name!r} changed "
                        f"(sha256 {oi[rel][:12]}... then, {ni[rel][:12]}... now)")  # fmt: skip
        if o.get("gan_sha256") != n.get("gan_sha256"):
            path = n.get("gan_checkpoint") or o.get("gan_checkpoint")
            return f"GAN checkpoint {path!r} of randomizer {name!r} changed"
    return None
