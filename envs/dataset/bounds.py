"""Where each drawn link of a scene can appear: a padded pixel rectangle and a camera depth
range per link, from boxes around its visual shapes (never a render), for planning the
alone-renders of :mod:`envs.dataset.visibility`."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.camera import Camera
from envs.objects.mesh import read_stl
from envs.panda_env import PandaTaskEnv

_PAD_PX = 1.5  # rasterizer sampling offset (measured <= 0.36 px) with a safety margin
PAD_M = 1e-3  # slack on shape sizes and depths (tessellation, depth-buffer ties), metres


@dataclass
class LinkParts:
    """One row per drawn link: its body and link, padded pixel rectangle (u0, v0, u1, v1),
    camera depth range (zmin, zmax), and the rectangle holding its part at or below the
    table top (where the table may hide it; empty when the link lies wholly above)."""

    body: np.ndarray
    link: np.ndarray
    rect: np.ndarray
    depth: np.ndarray
    low: np.ndarray


@functools.lru_cache(maxsize=512)
def _mesh_box(path: str, scale: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Low and high corners of a scaled OBJ or STL mesh's vertices (infinite when
    unreadable)."""
    unknown = ((-math.inf,) * 3, (math.inf,) * 3)
    try:
        if path.lower().endswith(".stl"):
            rows: Any = read_stl(Path(path))[0]
        elif path.lower().endswith(".obj"):
            lines = Path(path).read_text(errors="replace").splitlines()
            rows = [ln.split()[1:4] for ln in lines if ln.startswith("v ")]
        else:
            return unknown
    except (OSError, ValueError):
        return unknown
    if not len(rows):
        return unknown
    verts = np.asarray(rows, dtype=np.float64) * np.asarray(scale, dtype=np.float64)
    return tuple(verts.min(axis=0).tolist()), tuple(verts.max(axis=0).tolist())


_CORNER_BITS = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)], dtype=bool)


def _corners(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Corners (..., 8, 3) of axis-aligned boxes with corners ``lo`` and ``hi`` (..., 3)."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    return np.where(_CORNER_BITS, hi[..., None, :], lo[..., None, :])


def _shape_corners(c: Any, shape: tuple[Any, ...]) -> np.ndarray:
    """(8, 3) corners of a box holding one ``getVisualShapeData`` row, in its link frame."""
    geom, dims, path = shape[2], shape[3], shape[4]
    if geom == c.GEOM_MESH:
        name = path.decode(errors="replace") if isinstance(path, bytes) else str(path)
        box = _mesh_box(name, tuple(float(x) for x in dims[:3]))
        lo, hi = np.asarray(box[0]), np.asarray(box[1])
    else:
        if geom == c.GEOM_BOX:
            hi = np.asarray(dims[:3], dtype=np.float64) / 2
        elif geom == c.GEOM_SPHERE:
            hi = np.full(3, float(dims[0]))
        elif geom == c.GEOM_CYLINDER:  # dims = (length, radius), axis z
            hi = np.array([dims[1], dims[1], dims[0] / 2])
        elif geom == c.GEOM_CAPSULE:
            hi = np.array([dims[1], dims[1], dims[0] / 2 + dims[1]])
        else:
            hi = np.full(3, math.inf)
        lo = -hi
    lo, hi = lo - 0.01 * np.abs(lo) - PAD_M, hi + 0.01 * np.abs(hi) + PAD_M
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        return _corners(lo, hi)  # unbounded: a rotation would turn inf * 0 into NaN
    R = np.asarray(c.getMatrixFromQuaternion(shape[6])).reshape(3, 3)
    return _corners(lo, hi) @ R.T + np.asarray(shape[5])


def _link_boxes(env: PandaTaskEnv, body: int, rows: list[Any]) -> dict[int, np.ndarray]:
    """Per drawn link, (8, 3) corners of a box holding its visual shapes in the frame whose
    pose PyBullet reports (the centre of mass; visual frames are given in the link frame).
    Cached per body and geometry."""
    cache = env.scene.store.setdefault("labels/link_boxes", {})
    key = (body, tuple(tuple(r[1:7]) for r in rows))
    if key not in cache:
        c = env.scene.client
        shapes: dict[int, list[np.ndarray]] = {}
        for r in rows:
            shapes.setdefault(r[1], []).append(_shape_corners(c, r))
        boxes = {}
        for link, pts in shapes.items():
            p = np.concatenate(pts)
            inertial = c.getDynamicsInfo(body, link)[3:5]
            R = np.asarray(c.getMatrixFromQuaternion(inertial[1])).reshape(3, 3)
            boxes[link] = (_corners(p.min(axis=0), p.max(axis=0)) - inertial[0]) @ R
        cache[key] = boxes
    return cache[key]


def _quat_matrices(q: np.ndarray) -> np.ndarray:
    """(N, 4) quaternions (x, y, z, w) -> (N, 3, 3) rotation matrices."""
    x, y, z, w = q.T
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], axis=1).reshape(-1, 3, 3)  # fmt: skip


def link_parts(
    env: PandaTaskEnv, rows: dict[int, list[Any]], camera: Camera | None = None
) -> LinkParts:
    """Bounds of every drawn link of the bodies in ``rows`` (body -> visual shape rows) in
    the images of ``camera`` (default: the env's main camera)."""
    cam = camera or env.camera
    c = env.scene.client
    body: list[int] = []
    link: list[int] = []
    local, pos, orn = [], [], []
    for b, shapes in rows.items():
        boxes = _link_boxes(env, b, [r for r in shapes if r[7][3] > 0])
        links = sorted(boxes)
        poses = [c.getBasePositionAndOrientation(b)] if links[0] == -1 else []
        if links[len(poses) :]:  # exact kinematics: a joint reset leaves cached states stale
            states = c.getLinkStates(b, links[len(poses) :], computeForwardKinematics=True)
            poses += [s[:2] for s in states]
        body += [b] * len(links)
        link += links
        local += [boxes[k] for k in links]
        pos += [p for p, _ in poses]
        orn += [q for _, q in poses]
    world = np.asarray(local) @ _quat_matrices(np.asarray(orn)).transpose(0, 2, 1)
    world += np.asarray(pos)[:, None, :]
    # the table and floor lie below the table top: seen from above it, they can hide only
    # what lies at or below it, inside the world box of the link cut at that height
    top = env.scene.table_top + PAD_M
    lo, hi = world.min(axis=1), world.max(axis=1)
    cut = _corners(lo, np.minimum(hi, [np.inf, np.inf, top]))
    rect, depth = _project(cam, np.concatenate([world, cut]))
    n = len(world)
    low = rect[n:]
    low[lo[:, 2] > top] = _EMPTY
    T = cam.extrinsics
    if float(-(T[:3, :3].T @ T[:3, 3])[2]) <= top:  # camera at or below the table top
        low = rect[:n]
    return LinkParts(np.asarray(body), np.asarray(link), rect[:n], depth[:n], low)


_EMPTY = (np.inf, np.inf, -np.inf, -np.inf)  # a rectangle that overlaps nothing


def _project(cam: Camera, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 3) world corners -> padded pixel rectangles (N, 4) of their hulls and depth
    ranges (N, 2); a hull reaching the near plane (or unbounded) may cover any pixel at any
    depth."""
    T, K = cam.extrinsics, cam.K
    pc = world @ T[:3, :3].T + T[:3, 3]
    z = pc[..., 2]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        u = K[0, 0] * pc[..., 0] / z + K[0, 2]
        v = K[1, 1] * pc[..., 1] / z + K[1, 2]
    rect = np.stack([u.min(1) - _PAD_PX, v.min(1) - _PAD_PX, u.max(1) + _PAD_PX,
                     v.max(1) + _PAD_PX], axis=1)  # fmt: skip
    depth = np.stack([z.min(1), z.max(1)], axis=1)
    unbounded = ~np.isfinite(pc).all(axis=(1, 2)) | (depth[:, 0] <= cam.config.near + PAD_M)
    rect[unbounded] = (-np.inf, -np.inf, np.inf, np.inf)
    depth[unbounded] = (-np.inf, np.inf)
    return rect, depth
