"""Randomized, labelled image datasets: native JSONL, COCO and BOP; parallel and resumable.

Sample ``i`` is a pure function of (env id, preset, seed, i): its reset seed is
``episode_seed(seed, i)``, so 1 worker and K workers, or a resumed run, write the same
bytes. Each sample's label file is written last and atomically, so an interrupted export
loses at most the samples in flight and ``resume=True`` continues where it stopped.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from tqdm import tqdm

from envs.labels import CATEGORIES, sample_labels
from envs.panda_env import PandaTaskEnv
from envs.seeding import episode_seed

FORMATS = ("coco", "bop")
BACKENDS = ("local", "ray")
POOL_CHUNK = 4  # samples per pool task: one result message per sample costs the parent
# ~1 ms of CPU per sample on a busy 2-core machine, which the workers lack


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
    visibility: bool = True
    policy: str = "random"  # who acts during the ``steps`` before the capture
    overwrite: bool = False
    episodes_file: str | None = None  # JSONL of {"seed", "params"}: replay these episodes
    backend: str = "local"  # "local" (process pool) or "ray"
    address: str | None = None  # Ray cluster address; None starts a local Ray
    shard_size: int = 50  # samples per Ray task

    def __post_init__(self) -> None:
        for key in ("num_images", "size", "workers"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.steps < 0:
            raise ValueError(f"steps must be >= 0, got {self.steps}")
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


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


def _init_worker(config: ExportConfig) -> None:
    import gymnasium as gym

    _Worker.config = config
    # state observations: a reset renders nothing; the one render per sample is ours
    made = gym.make(
        config.env_id, obs_mode="state", image_size=config.size, randomization=config.preset
    )
    _Worker.env = cast(PandaTaskEnv, made.unwrapped)


class SampleError(RuntimeError):
    """Exporting one sample failed; the message names the sample index."""


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
    rng = np.random.default_rng(seed)
    expert = None
    if config.policy == "expert" and config.steps:
        from agents.experts import make_expert

        expert = make_expert(config.env_id)
    for _ in range(config.steps):
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


def _done(out: Path, n: int) -> set[int]:
    return {i for i in range(n) if (out / "labels" / f"{i:06d}.json").exists()}


def export_dataset(
    config: ExportConfig, *, progress: bool = True, on_done: Callable[[int], None] | None = None
) -> Path:
    """Render and label ``num_images`` samples into ``config.out``; returns the folder.
    ``on_done(n)`` is called in this process each time ``n`` more samples are finished."""
    out = Path(config.out)
    if (
        config.episodes_file is not None
        and len(_episodes(config.episodes_file)) != config.num_images
    ):
        raise ValueError(
            f"num_images ({config.num_images}) must equal the rows of {config.episodes_file!r} "
            f"({len(_episodes(config.episodes_file))})"
        )
    manifest_path = out / "manifest.json"
    manifest = _manifest(config)
    if out.exists() and any(out.iterdir()) and config.overwrite:
        import shutil

        shutil.rmtree(out)
    if out.exists() and any(out.iterdir()):
        if not config.resume:
            raise FileExistsError(
                f"{str(out)!r} is not empty; pass resume=True (--resume) to continue an "
                "interrupted export with the same settings, overwrite=True (--overwrite) to "
                "replace it, or choose another folder"
            )
        if manifest_path.exists():
            old = json.loads(manifest_path.read_text())
            changed = sorted(k for k in manifest if k != "num_images" and old.get(k) != manifest[k])
            if changed:
                raise ValueError(
                    f"cannot resume {str(out)!r}: settings differ from the first run in {changed}"
                )
    for sub in ("rgb", "instances", "labels", *(("depth",) if config.depth else ())):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _write_atomic(manifest_path, json.dumps(manifest, indent=2, sort_keys=True).encode())
    todo = sorted(set(range(config.num_images)) - _done(out, config.num_images))
    bar = tqdm(total=config.num_images, initial=config.num_images - len(todo), unit="img",
               disable=not progress, desc="export")  # fmt: skip

    def done(n: int) -> None:
        bar.update(n)
        if on_done is not None:
            on_done(n)

    try:
        if config.backend == "ray":
            _run_ray(config, todo, done)
        elif config.workers == 1 or len(todo) <= 1:
            _init_worker(config)
            for i in todo:
                _export_one(i)
                done(1)
            assert _Worker.env is not None
            _Worker.env.close()
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ctx.Pool(config.workers, initializer=_init_worker, initargs=(config,)) as pool:
                for _ in pool.imap_unordered(_export_one, todo, chunksize=POOL_CHUNK):
                    done(1)
    finally:
        bar.close()
    write_index(out, config)
    return out


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


def _run_ray(config: ExportConfig, todo: list[int], done: Callable[[int], None]) -> None:
    """The same shards as Ray tasks (``ray.init(address)``; a local Ray when None). The
    output folder must be reachable from every node (a shared filesystem)."""
    try:
        import ray
    except ImportError:
        raise ImportError("backend='ray' needs Ray: pip install -e '.[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=config.address, include_dashboard=False, log_to_driver=False)
    try:
        task = ray.remote(num_cpus=1)(_export_shard)
        shards = [todo[i : i + config.shard_size] for i in range(0, len(todo), config.shard_size)]
        pending = [task.remote(config, shard) for shard in shards]
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
    if config.preset is not None:
        compose = load_preset(config.preset)
        preset = {
            "name": config.preset,
            "randomizers": [r.kind for r in compose.randomizers],
            "contents": preset_text(config.preset),  # named preset or a .yaml path alike
        }
    try:
        pkg = version("domrand")
    except PackageNotFoundError:
        pkg = "unknown"
    fields = asdict(config)
    for key in ("out", "workers", "resume", "overwrite", "backend", "address", "shard_size"):
        fields.pop(key)
    return {**fields, "formats": list(config.formats), "preset": preset, "package_version": pkg,
            "categories": list(CATEGORIES)}  # fmt: skip


def iter_labels(out: Path, n: int) -> Iterator[dict[str, Any]]:
    """Sample records in index order."""
    for i in range(n):
        yield json.loads((out / "labels" / f"{i:06d}.json").read_text())


def write_index(out: Path, config: ExportConfig) -> None:
    """``samples.jsonl`` (one line per sample, index order) and the requested formats."""
    # a label file holds ``_dump(record)``: its text is the line, no parse and re-dump
    texts = [(out / "labels" / f"{i:06d}.json").read_text() for i in range(config.num_images)]
    (out / "samples.jsonl").write_text("".join(t.strip() + "\n" for t in texts))
    if config.formats:
        records = [json.loads(t) for t in texts]
        if "coco" in config.formats:
            write_coco(out, records, config.size)
        if "bop" in config.formats:
            write_bop(out, records)
    from envs.contact_sheet import contact_sheet

    contact_sheet(out, num=min(16, len(texts))).save(out / "preview.png")


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
    path.write_text(_dump(coco))
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
    folder.mkdir(exist_ok=True)
    (folder / "scene_camera.json").write_text(json.dumps(cams, indent=1, sort_keys=True))
    (folder / "scene_gt.json").write_text(json.dumps(gts, indent=1, sort_keys=True))
    (folder / "scene_gt_info.json").write_text(json.dumps(infos, indent=1, sort_keys=True))
    return folder
