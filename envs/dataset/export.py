"""Randomized, labelled image datasets: native JSONL, COCO and BOP; parallel and resumable.

Sample ``i`` is a pure function of (env id, preset, seed, i): its reset seed is
``episode_seed(seed, i)``, so 1 worker and K workers, or a resumed run, write the same
bytes. Every file is written under a temporary name and renamed, each sample's label file
last, so an interrupted export loses at most the samples in flight and ``resume=True``
continues where it stopped, after checking the finished samples and the manifest (settings
and the content hashes of every photo and GAN checkpoint the preset reads).

``overwrite=True`` replaces only a folder that holds an export of this project and nothing
else, and only once the new export has succeeded: it is written to a hidden sibling
``.<name>.partial-<pid>`` of the resolved folder (a symlinked ``out`` keeps pointing at the
new data, on the same disk) and swapped in through ``.<name>.old-<pid>``. An overwrite killed
between the two renames is undone by the next run, which renames the old dataset back.
A pool worker that dies (``kill -9``, the OOM killer) stops the run with an error naming the
samples queued or running instead of hanging it. One export holds at most
``MAX_NUM_IMAGES`` samples; split a larger dataset into several exports.
"""

from __future__ import annotations

import glob
import hashlib
import io
import itertools
import json
import multiprocessing as mp
import os
import re
import shutil
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from tqdm import tqdm

from envs.files import atomic_path, write_atomic
from envs.dataset.labels import CATEGORIES, sample_labels
from envs.panda_env import MAX_IMAGE_SIZE, PandaTaskEnv
from envs.seeding import action_rng, episode_seed

FORMATS = ("coco", "bop")
BACKENDS = ("local", "ray")
POOL_CHUNK = 4  # samples per pool task: one result message per sample costs the parent
# ~1 ms of CPU per sample on a busy 2-core machine, which the workers lack
PENDING_PER_WORKER = 4  # chunks submitted ahead per worker (bounded memory, busy workers)
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "domrand-export"  # the manifest's "format": marks a folder as an export
LEGACY_KEYS = ("env_id", "preset", "package_version", "num_images", "seed")  # older manifests
NOT_COMPARED = ("num_images", "format", "sources")  # keys a resume may change or checks apart
SUBFOLDERS = ("rgb", "instances", "labels", "depth")
MAX_NUM_IMAGES = 10_000_000  # per export: index files and resume checks stay in memory
EXPORT_ENTRIES = frozenset(  # what an export writes at its top level (--overwrite may delete)
    (*SUBFOLDERS, "bop", MANIFEST, "samples.jsonl", "annotations.json", "preview.png")
)


class ExportError(RuntimeError):
    """An export cannot start or go on; the one-line message names the file and the fix."""


class SampleError(ExportError):
    """Exporting one sample failed; the message names the sample index."""


class WorkerDiedError(ExportError):
    """A pool worker process died; the message names the samples that were in flight."""


@dataclass(frozen=True)
class ExportConfig:
    """What to export."""

    env_id: str = "domrand/Push-v0"
    preset: str | None = "tobin"
    num_images: int = 100
    size: int = 128
    out: str = "datasets/export"
    seed: int = 0
    workers: int = 1
    resume: bool = False
    formats: tuple[str, ...] = ()
    depth: bool = False
    steps: int = 0  # random actions before the capture (varied robot and object states)
    max_steps: int | None = None  # each sample draws its step count from steps..max_steps
    visibility: bool = True
    policy: str = "random"  # who acts during the ``steps`` before the capture
    overwrite: bool = False
    episodes_file: str | None = None  # JSONL of {"seed", "params"}: replay these episodes
    backend: str = "local"  # "local" (process pool) or "ray"
    address: str | None = None  # Ray cluster address; None starts a local Ray
    shard_size: int = 50  # samples per Ray task

    def __post_init__(self) -> None:
        if not 1 <= self.num_images <= MAX_NUM_IMAGES:
            raise ValueError(
                f"num_images must be >= 1 and <= {MAX_NUM_IMAGES:,} per export, got "
                f"{self.num_images:,}; split a larger dataset into several exports (each its "
                "own --out and --seed)"
            )
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if not 1 <= self.size <= MAX_IMAGE_SIZE:
            raise ValueError(
                f"size must be 1..{MAX_IMAGE_SIZE} px per side, got {self.size}; "
                f"pick a size in that range (TinyRenderer's frame cost grows with its square)"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}; episode seeds derive from it")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
        if self.max_steps is not None and self.max_steps < self.steps:
            raise ValueError(f"max_steps must be >= steps ({self.steps}), got {self.max_steps}")
        if self.policy not in ("random", "expert"):
            raise ValueError(f"unknown policy {self.policy!r}; allowed: random, expert")
        if self.resume and self.overwrite:
            raise ValueError("resume and overwrite exclude each other; pick one")
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; allowed: {', '.join(BACKENDS)}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown format(s) {unknown}; allowed: {', '.join(FORMATS)}")


def _dump(obj: Any) -> str:
    # records are trees (no cycles): skipping the cycle check makes dumping ~30% faster
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), check_circular=False)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename: a reader (or a
    crash, a full disk, ``ulimit -f``) sees the old file or the new one, never a part."""
    try:
        write_atomic(path, data)
    except OSError as exc:
        raise ExportError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; free space or raise the "
            "file-size limit (ulimit -f), check the folder's permissions, then rerun"
        ) from None


PNG_LEVEL = 1  # zlib level: 2-4x faster than Pillow's default 6, files about 15% larger


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data, CRC."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _png(array: np.ndarray) -> bytes:
    """PNG bytes of an (H, W) uint8/uint16 or (H, W, 3) uint8 image: every row "Up"-filtered
    (vectorized) and one zlib stream, so the same array always gives the same bytes."""
    if array.dtype not in (np.uint8, np.uint16) or array.ndim not in (2, 3):
        raise ValueError(f"cannot write a {array.dtype} array of shape {array.shape} as PNG")
    if array.ndim == 3 and array.shape[2] != 3:
        raise ValueError(f"colour PNGs need 3 channels, got shape {array.shape}")
    h, w = array.shape[:2]
    raw = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).view(np.uint8)
    raw = raw.reshape(h, -1)
    rows = np.empty((h, raw.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type Up: each byte minus the byte above it (mod 256)
    rows[0, 1:] = raw[0]
    np.subtract(raw[1:], raw[:-1], out=rows[1:, 1:])
    colour = 2 if array.ndim == 3 else 0  # truecolour or greyscale
    header = struct.pack(">IIBBBBB", w, h, 8 * array.itemsize, colour, 0, 0, 0)
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)),
        _png_chunk(b"IEND", b""),
    ])  # fmt: skip


class _Worker:
    """Holds one env per process (created once) and renders samples by index."""

    env: PandaTaskEnv | None = None
    config: ExportConfig | None = None
    init_error: str | None = None  # why this process could not build its env


def _init_worker(config: ExportConfig) -> None:
    import gymnasium as gym

    _Worker.config = config
    # state observations: a reset renders nothing; the one render per sample is ours
    made = gym.make(
        config.env_id, obs_mode="state", image_size=config.size, randomization=config.preset
    )
    _Worker.env = cast(PandaTaskEnv, made.unwrapped)


def _init_pool_worker(config: ExportConfig) -> None:
    """A pool initializer that never raises (a raising one breaks the pool with no reason
    given): the error is kept and reported by the first chunk this process gets."""
    try:
        _init_worker(config)
    except Exception as exc:
        _Worker.init_error = f"{type(exc).__name__}: {exc}"


def _export_chunk(indices: list[int]) -> list[int]:
    """One pool task: a few consecutive samples (fewer result messages than one per sample)."""
    if _Worker.init_error is not None:
        raise ExportError(f"a worker could not build its env: {_Worker.init_error}")
    return [_export_one(i) for i in indices]


def _export_one(index: int) -> int:
    try:
        return _export_sample(index)
    except Exception as exc:
        raise SampleError(f"sample {index} failed: {type(exc).__name__}: {exc}") from exc


def _export_sample(index: int) -> int:
    env, config = _Worker.env, _Worker.config
    assert env is not None and config is not None
    out = Path(config.out)
    seed = episode_seed(config.seed, index)
    options = None
    if config.episodes_file is not None:
        row = _episodes(config.episodes_file)[index]
        seed, options = int(row["seed"]), {"randomization": row["params"]}
    _, info = env.reset(seed=seed, options=options)
    events: list[str] = []
    rng = action_rng(seed)  # a stream apart from the one reset draws the scene from
    expert = None
    steps = config.steps
    if config.max_steps is not None:  # drawn first: the action stream stays apart from it
        steps = int(rng.integers(config.steps, config.max_steps + 1))
    if config.policy == "expert" and steps:
        from agents.policies.experts import make_expert

        expert = make_expert(config.env_id)
    for _ in range(steps):
        if expert is not None:
            action = expert(env.privileged_state())
        else:
            action = rng.uniform(-1, 1, env.action_space.shape)
        _, _, term, trunc, step_info = env.step(action)
        events += step_info["events"]
        if term or trunc:
            break
    frame = env.camera.render(rgb=True, depth=config.depth, segmentation=True)
    assert frame.rgb is not None and frame.segmentation is not None
    rgb = env._filter(frame.rgb)
    labels = sample_labels(env, frame.segmentation, visibility=config.visibility)
    instances = np.zeros(frame.segmentation.shape, dtype=np.uint16)
    for obj in labels["objects"]:
        instances[frame.segmentation == obj["body"]] = obj["instance"]
    stem = f"{index:06d}"
    _write_atomic(out / "rgb" / f"{stem}.png", _png(rgb))
    _write_atomic(out / "instances" / f"{stem}.png", _png(instances))
    if config.depth:
        assert frame.depth is not None
        mm = np.clip(np.rint(frame.depth * 1000.0), 0, 65535).astype(np.uint16)
        _write_atomic(out / "depth" / f"{stem}.png", _png(mm))
    record = {
        "index": index,
        "seed": seed,
        "rgb": f"rgb/{stem}.png",
        "instances": f"instances/{stem}.png",
        "depth": f"depth/{stem}.png" if config.depth else None,
        "depth_scale_mm": 1.0 if config.depth else None,
        "randomization": info["randomization"],
        "events": events,
        **labels,
    }
    _write_atomic(out / "labels" / f"{stem}.json", _dump(record).encode())  # written last
    return index


_EPISODES: dict[tuple[str, int], list[dict[str, Any]]] = {}  # per-process file cache


def _episodes(path: str) -> list[dict[str, Any]]:
    """Rows of an episodes file (read once per process and file version)."""
    try:
        key = (path, Path(path).stat().st_mtime_ns)
        if key not in _EPISODES:
            lines = Path(path).read_text().splitlines()
            _EPISODES[key] = [json.loads(line) for line in lines if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read episodes file {path!r}: {exc}") from None
    rows = _EPISODES[key]
    for i, row in enumerate(rows):
        if "seed" not in row or "params" not in row:
            raise ValueError(f"{path!r} line {i + 1}: each row needs 'seed' and 'params'")
    return rows


def _stderr_note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def _listing(folder: Path, limit: int = 5) -> str:
    """A few entries of ``folder`` ('thesis.tex, src/, ... (12 entries)')."""
    try:
        names = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir())
    except OSError as exc:
        return f"(unreadable: {exc.strerror})"
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} entries)" if len(names) > limit else "")


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


def _check_is_export(out: Path, why: str) -> dict[str, Any]:
    """The manifest of the non-empty folder ``out``, or :class:`ExportError` naming what is
    there when ``out`` is not an export of this project (``why``: what was asked)."""
    path = out / MANIFEST
    fix = "choose another --out, or move its contents away yourself"
    if not path.is_file():
        raise ExportError(
            f"refusing to {why} {str(out)!r}: it has no {MANIFEST}, so it is not an export of "
            f"this project (it holds {_listing(out)}); {fix}"
        )
    try:
        manifest = read_manifest(path)
    except ExportError as exc:
        raise ExportError(
            f"refusing to {why} {str(out)!r}: {exc} (the folder holds {_listing(out)}); {fix}"
        ) from None
    if not _is_export(manifest):
        raise ExportError(
            f"refusing to {why} {str(out)!r}: {str(path)!r} is not an export manifest (no "
            f"'format': {MANIFEST_FORMAT!r} and not all of {', '.join(LEGACY_KEYS)}; the "
            f"folder holds {_listing(out)}); {fix}"
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


def _changed_source(old: dict[str, Any], new: dict[str, Any]) -> str | None:
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


def _check_resume(out: Path, manifest: dict[str, Any]) -> None:
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
            _check_is_export(out, "resume into")  # raises, naming what is there
        return  # only empty folders: the first run stopped before writing anything
    old = _check_is_export(out, "resume into")
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
    why = _changed_source(old["sources"], manifest["sources"])
    if why is not None:
        raise ExportError(
            f"cannot resume {str(out)!r}: {why} since the first run, so new samples would "
            "come from other textures; restore the file, or export to a new folder"
        )


def _sample_problem(out: Path, index: int, config: ExportConfig) -> str | None:
    """Why the finished sample ``index`` is broken (its label does not parse or an image it
    references does not decode at the export's size), or None when it is whole."""
    stem = f"{index:06d}"
    label = out / "labels" / f"{stem}.json"
    try:
        record = json.loads(label.read_bytes())
    except (OSError, ValueError):
        return f"{label} is not valid JSON"
    if not isinstance(record, dict) or record.get("index") != index:
        return f"{label} is not the record of sample {index}"
    subs = ("rgb", "instances", *(("depth",) if config.depth else ()))
    for sub in subs:
        rel = f"{sub}/{stem}.png"
        if record.get(sub) != rel:
            return f"{label} does not reference {rel}"
        try:
            with Image.open(out / rel) as im:
                im.load()
                size = im.size
        except Exception:
            return f"{out / rel} does not decode as a PNG"
        if size != (config.size, config.size):
            return f"{out / rel} is {size[0]}x{size[1]} px, expected {config.size}"
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


def _finished(out: Path, config: ExportConfig, note: Callable[[str], None]) -> set[int]:
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


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create folder {str(folder)!r}: {exc.strerror or exc}; choose an --out "
            "in a folder you can write to"
        ) from None


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ImportError(
            "backend='ray' needs Ray, which is not installed: pip install -e '.[ray]', or "
            "use --backend local"
        ) from None
    return ray


def export_dataset(
    config: ExportConfig,
    *,
    progress: bool = True,
    on_done: Callable[[int], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> Path:
    """Render and label ``num_images`` samples into ``config.out``; returns the folder.
    ``on_done(n)`` is called in this process each time ``n`` more samples are finished;
    ``note(message)`` receives remarks (default: one ``note: ...`` line on stderr)."""
    note = note or _stderr_note
    out = Path(config.out)
    _restore_interrupted_swap(out, note)  # first: an overwrite killed mid-swap is undone
    if config.backend == "ray":
        _import_ray()  # before anything is created, so a plain rerun works
    if (
        config.episodes_file is not None
        and len(_episodes(config.episodes_file)) != config.num_images
    ):
        raise ValueError(
            f"num_images ({config.num_images}) must equal the rows of {config.episodes_file!r} "
            f"({len(_episodes(config.episodes_file))})"
        )
    if out.exists() and not out.is_dir():
        raise ExportError(
            f"--out {str(out)!r} is an existing file, not a folder; choose a folder path"
        )
    manifest = _manifest(config)
    if out.is_dir() and any(out.iterdir()):
        if config.overwrite:
            _check_is_export(out, "overwrite")
            _check_only_export_entries(out)
            _replace(_swap_target(out), config, manifest, progress, on_done, note)
            return out
        if not config.resume:
            raise FileExistsError(
                f"{str(out)!r} is not empty; pass resume=True (--resume) to continue an "
                "interrupted export with the same settings, overwrite=True (--overwrite) to "
                "replace it, or choose another folder"
            )
        _check_resume(out, manifest)
    try:
        _export_into(out, config, manifest, progress, on_done, note)
    except (SampleError, WorkerDiedError) as exc:
        done = len(list((out / "labels").glob("*.json")))
        raise type(exc)(
            f"{exc}; the {done} finished samples in {str(out)!r} are kept: rerun with "
            "--resume (resume=True) to finish"
        ) from exc
    return out


def _check_only_export_entries(out: Path) -> None:
    """Refuse to overwrite an export folder that also holds entries an export never writes
    (the user's notes, an analysis folder): --overwrite would delete them with it."""
    foreign = sorted(
        p.name + ("/" if p.is_dir() else "")
        for p in out.iterdir()
        if p.name not in EXPORT_ENTRIES and not _TEMPORARY.match(p.name)
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (f", ... ({len(foreign)} entries)" if len(foreign) > 5
                                          else "")  # fmt: skip
        raise ExportError(
            f"refusing to overwrite {str(out)!r}: it holds {shown}, which an export never "
            f"writes, and --overwrite would delete them; move them out of the folder (or "
            "choose another --out), then rerun"
        )


def _swap_target(out: Path) -> Path:
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


def _replace(
    out: Path,
    config: ExportConfig,
    manifest: dict[str, Any],
    progress: bool,
    on_done: Callable[[int], None] | None,
    note: Callable[[str], None],
) -> Path:
    """Export into a hidden sibling folder, then swap it in for ``out`` (a resolved real
    folder, see :func:`_swap_target`), whose old dataset is deleted only after the new one
    is complete."""
    parent, name = out.parent, out.name
    partial = parent / f".{name}.partial-{os.getpid()}"
    aside = parent / f".{name}.old-{os.getpid()}"
    assert not partial.is_relative_to(out), "the partial export must be a sibling"
    _remove_stale(parent, name, note)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        _export_into(partial, replace(config, out=str(partial)), manifest, progress, on_done, note)
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


def _restore_interrupted_swap(out: Path, note: Callable[[str], None]) -> None:
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


_TEMPORARY = re.compile(r"^\..+\.\d+\.tmp$")  # what _write_atomic writes before renaming


def _remove_temporaries(out: Path) -> None:
    """Delete the temporary files of writes that a killed process never renamed."""
    for folder in (out, *(out / sub for sub in (*SUBFOLDERS, "bop"))):
        if folder.is_dir():
            for path in folder.glob(".*.tmp"):
                if _TEMPORARY.match(path.name) and path.is_file():
                    path.unlink(missing_ok=True)


def _export_into(
    out: Path,
    config: ExportConfig,
    manifest: dict[str, Any],
    progress: bool,
    on_done: Callable[[int], None] | None,
    note: Callable[[str], None],
) -> None:
    """Write the manifest, the missing samples and the index files into ``out``."""
    _mkdir(out)
    _remove_temporaries(out)
    _write_atomic(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
    for sub in SUBFOLDERS[:3] + (("depth",) if config.depth else ()):
        _mkdir(out / sub)
    finished = _finished(out, config, note)
    count = config.num_images - len(finished)  # images to do, in index order (lazily)
    todo = (i for i in range(config.num_images) if i not in finished)
    workers = min(config.workers, os.cpu_count() or 1, max(count, 1))
    if workers < config.workers and config.backend == "local":
        note(f"--workers {config.workers} capped to {workers} ({os.cpu_count()} CPUs, "
             f"{count} images to do)")  # fmt: skip
    bar = tqdm(total=config.num_images, initial=config.num_images - count, unit="img",
               disable=not progress, desc="export")  # fmt: skip

    def done(n: int) -> None:
        bar.update(n)
        if on_done is not None:
            on_done(n)

    try:
        if config.backend == "ray":
            _run_ray(config, todo, done)
        elif workers == 1:
            if count:
                _init_worker(config)
                assert _Worker.env is not None
                try:
                    for i in todo:
                        _export_one(i)
                        done(1)
                finally:
                    _Worker.env.close()
        else:
            _run_pool(config, todo, workers, done)
    finally:
        bar.close()
    write_index(out, config)


def _chunks(todo: Iterator[int], size: int) -> Iterator[list[int]]:
    """Consecutive lists of ``size`` indices (the last one shorter), drawn lazily."""
    while chunk := list(itertools.islice(todo, size)):
        yield chunk


def _run_pool(
    config: ExportConfig, todo: Iterator[int], workers: int, done: Callable[[int], None]
) -> None:
    """Chunks of ``POOL_CHUNK`` samples as futures, a bounded number ahead. A worker that
    dies breaks the pool at once: the error names the samples not finished yet (queued or
    running; a sample is finished once its label file exists)."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    chunks = _chunks(todo, POOL_CHUNK)
    pool = ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=_init_pool_worker, initargs=(config,)
    )
    pending: dict[Future[list[int]], list[int]] = {}
    failed = True
    try:
        more = True
        while more or pending:
            while more and len(pending) < PENDING_PER_WORKER * workers:
                chunk = next(chunks, None)
                if chunk is None:
                    more = False
                    break
                pending[pool.submit(_export_chunk, chunk)] = chunk
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=lambda f: pending[f][0]):
                try:
                    done(len(future.result()))
                except BrokenProcessPool:
                    labels = Path(config.out) / "labels"
                    left = sorted(
                        i
                        for f, c in pending.items()
                        if not (f.done() and f.exception() is None)
                        for i in c
                        if not (labels / f"{i:06d}.json").exists()
                    )
                    raise WorkerDiedError(
                        f"a worker process died (killed by a signal, e.g. kill -9 or the OOM "
                        f"killer) while samples {left} were queued or running"
                    ) from None
                del pending[future]
        failed = False
    finally:
        # on an error: drop the queued chunks and let the running ones finish (their
        # samples are kept); a broken pool has no running ones left
        pool.shutdown(wait=True, cancel_futures=failed)


def _export_shard(config: ExportConfig, indices: list[int]) -> int:
    """One Ray task: build an env, export a shard of sample indices, close the env."""
    _init_worker(config)
    try:
        for i in indices:
            _export_one(i)
    finally:
        assert _Worker.env is not None
        _Worker.env.close()
    return len(indices)


def _run_ray(config: ExportConfig, todo: Iterator[int], done: Callable[[int], None]) -> None:
    """The same shards as Ray tasks (``ray.init(address)``; a local Ray when None). The
    output folder must be reachable from every node (a shared filesystem)."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=config.address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_export_shard)
        pending = [task.remote(config, shard) for shard in _chunks(todo, config.shard_size)]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            done(ray.get(finished[0]))
    finally:
        if started:
            ray.shutdown()


def _manifest(config: ExportConfig) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    from randomizers.presets import load_preset, preset_text

    preset: Any = None
    sources: dict[str, Any] = {}
    if config.preset is not None:
        compose = load_preset(config.preset)
        preset = {
            "name": config.preset,
            "randomizers": [r.kind for r in compose.randomizers],
            "contents": preset_text(config.preset),  # named preset or a .yaml path alike
        }
        sources = source_files(compose)
    try:
        pkg = version("domrand")
    except PackageNotFoundError:
        pkg = "unknown"
    fields = asdict(config)
    for key in ("out", "workers", "resume", "overwrite", "backend", "address", "shard_size"):
        fields.pop(key)
    return {**fields, "format": MANIFEST_FORMAT, "formats": list(config.formats),
            "preset": preset, "package_version": pkg, "categories": list(CATEGORIES),
            "sources": sources}  # fmt: skip


def iter_labels(out: Path, n: int) -> Iterator[dict[str, Any]]:
    """Sample records in index order."""
    for i in range(n):
        yield json.loads((out / "labels" / f"{i:06d}.json").read_text())


def _label_text(out: Path, index: int) -> str:
    path = out / "labels" / f"{index:06d}.json"
    try:
        return path.read_text()
    except OSError as exc:
        raise ExportError(
            f"cannot read {str(path)!r}: {exc.strerror or exc}; rerun with --resume"
        ) from None


def write_index(out: Path, config: ExportConfig) -> None:
    """``samples.jsonl`` (one line per sample, index order) and the requested formats."""
    # a label file holds ``_dump(record)``: its text is the line, no parse and re-dump;
    # streamed to a temporary file and renamed (never all labels in memory at once)
    path = out / "samples.jsonl"
    try:
        with atomic_path(path) as tmp, tmp.open("wb") as f:
            for i in range(config.num_images):
                f.write(_label_text(out, i).strip().encode() + b"\n")
    except OSError as exc:
        raise ExportError(
            f"cannot write {str(path)!r}: {exc.strerror or exc}; free space or raise the "
            "file-size limit (ulimit -f), check the folder's permissions, then rerun"
        ) from None
    if config.formats:  # COCO and BOP files are one JSON document each: records in memory
        records = [json.loads(_label_text(out, i)) for i in range(config.num_images)]
        if "coco" in config.formats:
            write_coco(out, records, config.size)
        if "bop" in config.formats:
            write_bop(out, records)
    from envs.dataset.sheets import contact_sheet

    buffer = io.BytesIO()
    contact_sheet(out, num=min(16, config.num_images)).save(buffer, format="PNG")
    _write_atomic(out / "preview.png", buffer.getvalue())


def write_coco(out: Path, records: list[dict[str, Any]], size: int) -> Path:
    """COCO instances with RLE masks decoded from the exported instance PNGs."""
    from pycocotools import mask as mask_utils

    cat_id = {name: i + 1 for i, name in enumerate(CATEGORIES)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for r in records:
        image_id = r["index"] + 1
        images.append({"id": image_id, "file_name": r["rgb"], "width": size, "height": size})
        inst = np.asarray(Image.open(out / r["instances"]))
        for obj in r["objects"]:
            m = np.asfortranarray((inst == obj["instance"]).astype(np.uint8))
            if not m.any():
                continue
            rle = mask_utils.encode(m)
            rle["counts"] = rle["counts"].decode("ascii")
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_id,
                "category_id": cat_id[obj["category"]], "bbox": obj["bbox"],
                "area": int(m.sum()), "segmentation": rle, "iscrowd": 0,
            })  # fmt: skip
    coco = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n, "supercategory": "object"} for n, i in cat_id.items()],
    }
    path = out / "annotations.json"
    _write_atomic(path, _dump(coco).encode())
    return path


def write_bop(out: Path, records: list[dict[str, Any]]) -> Path:
    """BOP scene files: scene_camera.json, scene_gt.json, scene_gt_info.json (mm units)."""
    cat_id = {name: i + 1 for i, name in enumerate(CATEGORIES)}
    cams: dict[str, Any] = {}
    gts: dict[str, list[dict[str, Any]]] = {}
    infos: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        key = str(r["index"])
        K = np.asarray(r["camera"]["K"])
        cams[key] = {"cam_K": K.reshape(-1).tolist(), "depth_scale": 1.0}
        gts[key], infos[key] = [], []
        for obj in r["objects"]:
            if obj["category"] == "robot":
                continue
            pose = obj["camera_pose"]
            gts[key].append({
                "obj_id": cat_id[obj["category"]],
                "cam_R_m2c": np.asarray(pose["rotation"]).reshape(-1).tolist(),
                "cam_t_m2c": (np.asarray(pose["position"]) * 1000.0).tolist(),
            })  # fmt: skip
            infos[key].append({
                "bbox_visib": obj["bbox"] or [-1, -1, -1, -1],
                "bbox_obj": obj["bbox"] or [-1, -1, -1, -1],
                "px_count_visib": obj["visible_pixels"],
                "px_count_all": obj.get("pixels_alone", obj["visible_pixels"]),
                "visib_fract": obj.get("visible_fraction", 1.0),
            })  # fmt: skip
    folder = out / "bop"
    _mkdir(folder)
    for name, data in (("scene_camera", cams), ("scene_gt", gts), ("scene_gt_info", infos)):
        _write_atomic(folder / f"{name}.json", json.dumps(data, indent=1, sort_keys=True).encode())
    return folder
