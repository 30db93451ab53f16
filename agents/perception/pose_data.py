"""Pose-estimation data: an exported dataset read into memory as images, targets in the
robot's base frame and each target's projected centre (:class:`PoseData`), and the helpers
that turn one sample record into those labels. Shared by the pose regressor
(:mod:`agents.perception.pose_regressor`) and the localizer (:mod:`agents.perception.localizer`).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

DECODE_CHUNK = 256  # images per decoding task


def object_position_in_robot_frame(record: dict[str, Any], object_name: str) -> np.ndarray:
    """The named object's position (metres) in the robot base frame of one sample record."""
    objects = {o["name"]: o for o in record["objects"]}
    if object_name not in objects:
        raise KeyError(
            f"sample {record.get('index')} has no object named {object_name!r}; "
            f"objects: {sorted(objects)}"
        )
    robot = objects.get("robot")
    p = np.asarray(objects[object_name]["world_pose"]["position"], dtype=np.float64)
    if robot is None:
        return p
    t = np.asarray(robot["world_pose"]["position"], dtype=np.float64)
    x, y, z, w = robot["world_pose"]["quaternion"]
    # rotation matrix of the base quaternion; the position goes through its transpose
    r = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    return r.T @ (p - t)


def projected_centre(record: dict[str, Any], object_name: str) -> np.ndarray:
    """Where the object's origin projects in the image, as (u, v) scaled to [-1, 1]."""
    obj = next(o for o in record["objects"] if o["name"] == object_name)
    cam = record["camera"]
    p = np.asarray(obj["camera_pose"]["position"], dtype=np.float64)
    uv = (np.asarray(cam["K"], dtype=np.float64) @ p)[:2] / max(p[2], 1e-6)
    size = np.array([cam["width"], cam["height"]], dtype=np.float64)
    return uv / size * 2.0 - 1.0


@dataclass(frozen=True)
class MaskRef:
    """Where one sample's object mask lies: the instance PNG (relative to the export, None
    when the record has none), the object's id in it (None when absent) and the sample's
    index, for errors."""

    path: str | None
    instance: int | None
    sample: Any


@dataclass
class PoseData:
    """A whole exported dataset in memory: uint8 images (N, 3, H, W), targets (N, 3) in
    metres, and each sample's target visible fraction."""

    images: torch.Tensor
    targets: torch.Tensor
    visible_fraction: np.ndarray
    root: str
    manifest: dict[str, Any]
    pixels: torch.Tensor | None = None  # (N, 2) projected object centre in [-1, 1]
    index: np.ndarray | None = None  # positions in samples.jsonl after subset(); None: all
    # read with the records, so that masks and rest heights need not parse samples.jsonl again
    object_name: str | None = None  # the object the labels are of
    world: np.ndarray | None = None  # (N, 3) its world position, metres
    mask_refs: list[MaskRef] | None = None  # its instance mask per sample (single exports)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def world_of(self, object_name: str) -> np.ndarray | None:
        """``object_name``'s world positions (N, 3) when they were read with the images,
        else None (the caller parses ``samples.jsonl``)."""
        return self.world if self.object_name == object_name else None

    def subset(self, keep: np.ndarray) -> PoseData:
        """The samples where ``keep`` (bool mask or indices) holds."""
        idx = torch.as_tensor(np.flatnonzero(keep) if keep.dtype == bool else keep)
        pixels = None if self.pixels is None else self.pixels[idx]
        rows = idx.numpy()
        index = (np.arange(len(self)) if self.index is None else self.index)[rows]
        world = None if self.world is None else self.world[rows]
        refs = None if self.mask_refs is None else [self.mask_refs[i] for i in rows]
        return PoseData(self.images[idx], self.targets[idx], self.visible_fraction[rows],
                        self.root, self.manifest, pixels, index, self.object_name, world,
                        refs)  # fmt: skip


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block: reading an export builds
    millions of acyclic JSON objects, and the collector's passes over them took two thirds
    of the parse (12,000 records: 7.2 s with them, 2.5 s without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_pose_data(root: str | Path, object_name: str = "cube") -> PoseData:
    """Read an exported dataset (native format) into memory for regression.

    A damaged ``samples.jsonl`` line, a record without the fields a sample needs, or an
    image that is missing or does not decode is a ``ValueError`` naming the file (and the
    line) and how to repair the export."""
    with gc_paused():
        return _load_pose_data(Path(root), object_name)


def _load_pose_data(root: Path, object_name: str) -> PoseData:
    index = root / "samples.jsonl"
    if not index.exists():
        raise FileNotFoundError(
            f"{str(index)!r} not found: export a dataset first "
            "(python scripts/export_dataset.py --env domrand/Lift-v0 --out DIR ...)"
        )
    repair = (
        f"repair the dataset: rerun the export command that made {str(root)!r} with --resume "
        "(same settings; it rewrites samples.jsonl and redoes damaged samples)"
    )
    # each chunk of PNGs decodes on the pool (GIL released) while the next records parse
    records: list[tuple[int, dict[str, Any]]] = []
    chunks: list[Future[list[np.ndarray | Exception]]] = []
    paths: list[Path] = []
    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        for line, record in _iter_records(index, repair):
            records.append((line, record))
            paths.append(root / record["rgb"])
            if len(paths) % DECODE_CHUNK == 0:
                chunks.append(pool.submit(_decode_all, paths[-DECODE_CHUNK:]))
        if len(paths) % DECODE_CHUNK:
            chunks.append(pool.submit(_decode_all, paths[len(chunks) * DECODE_CHUNK :]))
        decoded = [image for chunk in chunks for image in chunk.result()]
    if not records:
        raise ValueError(f"{str(index)!r} holds no samples; export at least one image")
    manifest_path = root / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_bytes()) if manifest_path.exists() else {}
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ValueError(
            f"{str(manifest_path)!r} is not valid JSON ({_one_line(exc)}); {repair}"
        ) from None
    images, targets, visible, pixels, world, refs = [], [], [], [], [], []
    for (line, r), image, got in zip(records, paths, decoded, strict=True):
        if isinstance(got, np.ndarray):
            images.append(got)
        else:
            why = "does not exist" if isinstance(got, FileNotFoundError) else (
                f"does not decode as an image ({type(got).__name__})"
            )  # fmt: skip
            raise ValueError(
                f"{str(image)!r} (the image of sample {r.get('index')}, {index.name} line "
                f"{line}) {why}; {repair}"
            ) from None
        try:
            targets.append(object_position_in_robot_frame(r, object_name))
            pixels.append(projected_centre(r, object_name))
            obj = next(o for o in r["objects"] if o["name"] == object_name)
            vf = obj.get("visible_fraction")
            visible.append(np.nan if vf is None else float(vf))
            world.append(np.asarray(obj["world_pose"]["position"], dtype=np.float64))
            refs.append(MaskRef(r.get("instances"), obj.get("instance"), r.get("index")))
        except KeyError as exc:
            if " has no object named " in str(exc.args[0]):  # a wrong --object, not damage
                raise ValueError(f"{index}: {exc.args[0]}") from None
            raise ValueError(
                f"{str(index)!r} line {line}: the record of sample {r.get('index')} lacks "
                f"{exc.args[0]!r} or holds it in another shape; {repair}"
            ) from None
        except (TypeError, ValueError, IndexError, StopIteration) as exc:
            raise ValueError(
                f"{str(index)!r} line {line}: the record of sample {r.get('index')} is damaged "
                f"({type(exc).__name__}: {exc}); {repair}"
            ) from None
    shapes = {(im.shape[2], *im.shape[:2]) for im in images}
    if len(shapes) != 1:
        raise ValueError(f"{root}: images of different sizes {sorted(shapes)}; export one size")
    return PoseData(  # (N, 3, H, W) in channels-last memory, as the networks read it
        images=torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2)),
        targets=torch.from_numpy(np.stack(targets).astype(np.float32)),
        visible_fraction=np.asarray(visible, dtype=np.float64),
        root=str(root),
        manifest=manifest,
        pixels=torch.from_numpy(np.stack(pixels).astype(np.float32)),
        object_name=object_name,
        world=np.stack(world),
        mask_refs=refs,
    )


def load_object_masks(data: PoseData, object_name: str = "cube") -> torch.Tensor:
    """The object's instance mask (N, H, W) bool in every sample of ``data`` (index order),
    read from the export's ``instances/`` PNGs; a dense label the simulator gives for free."""
    root = Path(data.root)
    refs = data.mask_refs if data.object_name == object_name else None
    if refs is None:
        records = [r for _, r in _read_records(root / "samples.jsonl", "re-export the dataset")]
        if data.index is not None:
            records = [records[i] for i in data.index]
        refs = []
        for r in records:
            obj = next((o for o in r["objects"] if o["name"] == object_name), {"instance": None})
            refs.append(MaskRef(r.get("instances"), obj["instance"], r.get("index")))
    for ref in refs:
        if not ref.path:
            raise ValueError(f"{str(root)!r} sample {ref.sample} has no instance mask "
                             "(re-export it with the current exporter, which writes instances/)")  # fmt: skip
        if ref.instance is None:
            raise ValueError(f"{str(root)!r} sample {ref.sample} has no object named "
                             f"{object_name!r}")  # fmt: skip
    masks = np.zeros((len(refs), *data.images.shape[-2:]), dtype=bool)

    def read(i: int) -> None:
        with Image.open(root / str(refs[i].path)) as im:
            masks[i] = np.asarray(im) == refs[i].instance

    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        list(pool.map(read, range(len(refs))))
    return torch.from_numpy(masks)


class PoseDataCache:
    """Exports read once per process: call it as ``load(root, object_name)``. A recipe that
    trains a network, its verifier and its refiner on the same 48,000 images in one process
    reads them once instead of three times (about 45 s each on two cores). The data it hands
    out is shared: callers must not write into it (training copies each batch)."""

    def __init__(self, load: Callable[[str | Path, str], PoseData] = load_pose_data) -> None:
        self._load = load
        self._data: dict[tuple[Path, str], PoseData] = {}

    def __call__(self, root: str | Path, object_name: str) -> PoseData:
        key = (Path(root).resolve(), object_name)
        if key not in self._data:
            self._data[key] = self._load(root, object_name)
        return self._data[key]

    def __len__(self) -> int:
        return len(self._data)


def concat_pose_data(parts: list[PoseData]) -> PoseData:
    """Several exports as one training set (same image size); root and manifest are the
    first part's, ``index`` is dropped (each part keeps its own files). A single export is
    returned as it is, so its records stay readable through its root and index."""
    if len(parts) == 1:
        return parts[0]
    if len({tuple(p.images.shape[1:]) for p in parts}) != 1:
        raise ValueError(
            "exports of different image sizes: "
            + ", ".join(f"{p.root} {tuple(p.images.shape[-2:])}" for p in parts)
        )
    pixels = None if any(p.pixels is None for p in parts) else torch.cat(
        [p.pixels for p in parts if p.pixels is not None])  # fmt: skip
    names = {p.object_name for p in parts}
    world = None if len(names) != 1 or any(p.world is None for p in parts) else np.concatenate(
        [p.world for p in parts if p.world is not None])  # fmt: skip
    # mask paths are relative to each part's own root: load masks per part
    return PoseData(torch.cat([p.images for p in parts]), torch.cat([p.targets for p in parts]),
                    np.concatenate([p.visible_fraction for p in parts]), parts[0].root,
                    parts[0].manifest, pixels, object_name=parts[0].object_name,
                    world=world)  # fmt: skip


def _threads() -> int:
    """Threads that read an export's PNGs: PIL decodes with the GIL released, so two cores
    read 12,000 128 px images in 13 s instead of 22."""
    return min(4, os.cpu_count() or 1)


def _decode(image: Path) -> np.ndarray | Exception:
    """The RGB image (H, W, 3) uint8 at ``image``, or the exception that reading it raised."""
    try:
        with Image.open(image) as im:
            return np.asarray(im if im.mode == "RGB" else im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return exc


def _decode_all(images: list[Path]) -> list[np.ndarray | Exception]:
    """:func:`_decode` of each of ``images`` (one pool task per chunk, not per image)."""
    return [_decode(image) for image in images]


def _read_records(index: Path, repair: str) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, record)`` of each non-empty line of ``samples.jsonl``."""
    return list(_iter_records(index, repair))


def _iter_records(index: Path, repair: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`_read_records` one record at a time."""
    try:
        text = index.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(index)!r} is not UTF-8 text (byte {exc.start}); {repair}") from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:  # JSONDecodeError, or an int past str()'s digit limit
            raise ValueError(
                f"{str(index)!r} line {number} is not valid JSON ({_one_line(exc)}); {repair}"
            ) from None
        if not isinstance(record, dict) or not isinstance(record.get("rgb"), str):
            raise ValueError(
                f"{str(index)!r} line {number} is not a sample record (a JSON object with an "
                f"'rgb' image path); {repair}"
            )
        yield number, record


def _one_line(exc: Exception) -> str:
    text = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    if isinstance(exc, json.JSONDecodeError):
        text += f" at column {exc.colno}"
    return " ".join(text.split())[:200]
