"""Per-sample labels: object poses (world and camera frame), boxes, masks, visible fractions,
projected 3D box corners, camera intrinsics and extrinsics."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from envs.panda_env import PandaTaskEnv

CATEGORIES: tuple[str, ...] = ("robot", "cube", "goal_region", "target", "distractor")


def labelled_objects(env: PandaTaskEnv) -> list[tuple[str, str]]:
    """(body name, category) of the robot, the task objects and the placed distractors."""
    scene = env.scene
    out = [("robot", "robot")]
    out += [(name, cat) for name, cat in env.task.objects.items()]
    for name in scene.body_names("distractors"):
        if scene.sim.pose(name)[0][2] > scene.table_top - 0.05:  # parked ones are below
            out.append((name, "distractor"))
    return out


def _quat_from_matrix(m: np.ndarray) -> list[float]:
    """Rotation matrix -> quaternion (x, y, z, w)."""
    r = m.tolist()  # Python floats: the same IEEE results as NumPy scalars, much faster
    w = math.sqrt(max(0.0, 1.0 + r[0][0] + r[1][1] + r[2][2])) / 2
    x = math.sqrt(max(0.0, 1.0 + r[0][0] - r[1][1] - r[2][2])) / 2
    y = math.sqrt(max(0.0, 1.0 - r[0][0] + r[1][1] - r[2][2])) / 2
    z = math.sqrt(max(0.0, 1.0 - r[0][0] - r[1][1] + r[2][2])) / 2
    x = math.copysign(x, r[2][1] - r[1][2])
    y = math.copysign(y, r[0][2] - r[2][0])
    z = math.copysign(z, r[1][0] - r[0][1])
    return [x, y, z, w]


def box_from_mask(mask: np.ndarray) -> list[int] | None:
    """Tight [x, y, width, height] of a boolean mask (None when empty)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]


def alone_pixel_counts(env: PandaTaskEnv, bodies: list[int]) -> dict[int, int]:
    """Pixels each body covers when rendered alone (every other body made transparent:
    TinyRenderer skips fully transparent shapes), for visible fractions."""
    c = env.scene.client
    all_bodies = [c.getBodyUniqueId(i) for i in range(c.getNumBodies())]
    colours = {b: [(v[1], v[7]) for v in c.getVisualShapeData(b)] for b in all_bodies}
    counts: dict[int, int] = {}
    try:
        for b in all_bodies:
            for link, rgba in colours[b]:
                c.changeVisualShape(b, link, rgbaColor=[*rgba[:3], 0.0])
        for body in bodies:
            for link, rgba in colours[body]:
                c.changeVisualShape(body, link, rgbaColor=list(rgba))
            seg = env.camera.render(rgb=False, segmentation=True).segmentation
            assert seg is not None
            counts[body] = int((seg == body).sum())
            for link, rgba in colours[body]:
                c.changeVisualShape(body, link, rgbaColor=[*rgba[:3], 0.0])
    finally:
        for b in all_bodies:
            for link, rgba in colours[b]:
                c.changeVisualShape(b, link, rgbaColor=list(rgba))
    return counts


# -- alone counts with few renders -----------------------------------------------------------
# A body's alone count is the pixels it covers with every other body transparent. Hidden
# pixels (covered alone, not visible in the main render) can only lie where one of its links
# may be occluded: a link reaching down to the table top (the table and floor may cover it)
# or one whose projected bounds another drawn body overlaps at a nearer depth. Outside those
# "hazard" rectangles the main render's mask is exact; inside them it is counted from an
# alone-render of just the links that reach in. Renders of bodies whose bounds are disjoint
# are shared (none can cover a pixel of another). A body with no hazard needs no render.

_PAD_PX = 1.5  # rasterizer sampling offset (measured <= 0.36 px) with a safety margin
_PAD_M = 1e-3  # slack on shape sizes and depths (tessellation, depth-buffer ties), metres
_SUPPORTS = ("table", "floor")  # wholly below ``scene.table_top``


@dataclass
class _Parts:
    """One row per drawn link: its body and link, padded pixel rectangle (u0, v0, u1, v1),
    camera depth range (zmin, zmax), and the rectangle holding its part at or below the
    table top (where the table may hide it; empty when the link lies wholly above)."""

    body: np.ndarray
    link: np.ndarray
    rect: np.ndarray
    depth: np.ndarray
    low: np.ndarray


@dataclass
class AloneJob:
    """Render ``links`` of ``body`` alone; count its pixels inside the ``hazard`` rectangles
    there and outside them in the main render."""

    body: int
    links: list[int]
    hazard: np.ndarray  # (k, 4) pixel rectangles
    rects: np.ndarray  # (n, 4) pixel rectangles of the rendered links


@functools.lru_cache(maxsize=512)
def _mesh_box(path: str, scale: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Low and high corners of a scaled OBJ mesh's vertices (infinite when unreadable)."""
    unknown = ((-math.inf,) * 3, (math.inf,) * 3)
    if not path.lower().endswith(".obj"):
        return unknown
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return unknown
    rows = [ln.split()[1:4] for ln in lines if ln.startswith("v ")]
    if not rows:
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
    lo, hi = lo - 0.01 * np.abs(lo) - _PAD_M, hi + 0.01 * np.abs(hi) + _PAD_M
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


def _parts(env: PandaTaskEnv, rows: dict[int, list[Any]]) -> _Parts:
    """Bounds of every drawn link of the bodies in ``rows`` (body -> visual shape rows)."""
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
    world = np.einsum("nij,nkj->nki", _quat_matrices(np.asarray(orn)), np.asarray(local))
    world += np.asarray(pos)[:, None, :]
    # the table and floor lie below the table top: seen from above it, they can hide only
    # what lies at or below it, inside the world box of the link cut at that height
    top = env.scene.table_top + _PAD_M
    lo, hi = world.min(axis=1), world.max(axis=1)
    cut = _corners(lo, np.minimum(hi, [np.inf, np.inf, top]))
    rect, depth = _project(env, np.concatenate([world, cut]))
    n = len(world)
    low = rect[n:]
    low[lo[:, 2] > top] = _EMPTY
    T = env.camera.extrinsics
    if float(-(T[:3, :3].T @ T[:3, 3])[2]) <= top:  # camera at or below the table top
        low = rect[:n]
    return _Parts(np.asarray(body), np.asarray(link), rect[:n], depth[:n], low)


_EMPTY = (np.inf, np.inf, -np.inf, -np.inf)  # a rectangle that overlaps nothing


def _project(env: PandaTaskEnv, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 3) world corners -> padded pixel rectangles (N, 4) of their hulls and depth
    ranges (N, 2); a hull reaching the near plane (or unbounded) may cover any pixel at any
    depth."""
    cam = env.camera
    T, K = cam.extrinsics, cam.K
    pc = world @ T[:3, :3].T + T[:3, 3]
    z = pc[..., 2]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        u = K[0, 0] * pc[..., 0] / z + K[0, 2]
        v = K[1, 1] * pc[..., 1] / z + K[1, 2]
    rect = np.stack([u.min(1) - _PAD_PX, v.min(1) - _PAD_PX, u.max(1) + _PAD_PX,
                     v.max(1) + _PAD_PX], axis=1)  # fmt: skip
    depth = np.stack([z.min(1), z.max(1)], axis=1)
    unbounded = ~np.isfinite(pc).all(axis=(1, 2)) | (depth[:, 0] <= cam.config.near + _PAD_M)
    rect[unbounded] = (-np.inf, -np.inf, np.inf, np.inf)
    depth[unbounded] = (-np.inf, np.inf)
    return rect, depth


def _overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)): whether pixel rectangles of ``a`` and ``b`` intersect."""
    return (
        (a[:, None, 0] <= b[None, :, 2])
        & (b[None, :, 0] <= a[:, None, 2])
        & (a[:, None, 1] <= b[None, :, 3])
        & (b[None, :, 1] <= a[:, None, 3])
    )


def _meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersections of pixel rectangles (empty ones overlap nothing)."""
    lo, hi = np.maximum(a[..., :2], b[..., :2]), np.minimum(a[..., 2:], b[..., 2:])
    return np.concatenate([lo, hi], axis=-1)


def plan_alone_renders(
    env: PandaTaskEnv, bodies: list[int], rows: dict[int, list[Any]]
) -> tuple[list[int], list[list[AloneJob]]]:
    """Bodies whose main-render count is their alone count, and alone-render jobs grouped
    into shared renders. ``rows`` holds ``getVisualShapeData`` of every body."""
    names = {b: n for n, b in env.scene.sim.bodies.items()}
    drawn = {
        b: r for b, r in rows.items()
        if names.get(b) not in _SUPPORTS and any(s[7][3] > 0 for s in r)
    }  # fmt: skip
    parts = _parts(env, drawn)
    nearer = parts.depth[:, None, 0] <= parts.depth[None, :, 1] + _PAD_M  # [o, l]: o may hide l
    other = parts.body[:, None] != parts.body[None, :]
    hider, hidden = np.nonzero(_overlap(parts.rect, parts.rect) & nearer & other)
    # pixels where a link may be hidden: its low part (by the table) and where a nearer
    # link of another body overlaps it
    hazard = np.concatenate([parts.low, _meet(parts.rect[hidden], parts.rect[hider])])
    owner = np.concatenate([parts.body, parts.body[hidden]])
    keep = (hazard[:, 0] <= hazard[:, 2]) & (hazard[:, 1] <= hazard[:, 3])
    hazard, owner = hazard[keep], owner[keep]
    # a body's alone-render needs the links that reach into its own hazards
    reach = (_overlap(parts.rect, hazard) & (parts.body[:, None] == owner[None, :])).any(axis=1)
    at_risk = set(owner.tolist())
    jobs = []
    for b in bodies:
        if b in at_risk:
            render = reach & (parts.body == b)
            jobs.append(AloneJob(b, parts.link[render].tolist(), hazard[owner == b],
                                 parts.rect[render]))  # fmt: skip
    return [b for b in bodies if b not in at_risk], _group(jobs)


def _group(jobs: list[AloneJob]) -> list[list[AloneJob]]:
    """Jobs in shared renders (greedy, in order): no job's rendered links may cover pixels
    that another job of the same render counts."""
    if not jobs:
        return []
    rects = np.concatenate([j.rects for j in jobs])
    hazard = np.concatenate([j.hazard for j in jobs])
    of_rect = np.repeat(np.arange(len(jobs)), [len(j.rects) for j in jobs])
    of_hazard = np.repeat(np.arange(len(jobs)), [len(j.hazard) for j in jobs])
    hits = np.zeros((len(jobs), len(jobs)), dtype=bool)
    r, h = np.nonzero(_overlap(rects, hazard))
    hits[of_rect[r], of_hazard[h]] = True
    conflict = hits | hits.T
    groups: list[list[int]] = []
    for i in range(len(jobs)):
        for group in groups:
            if not conflict[i, group].any():
                group.append(i)
                break
        else:
            groups.append([i])
    return [[jobs[i] for i in group] for group in groups]


def _in_rects(shape: tuple[int, ...], rects: np.ndarray) -> np.ndarray:
    """Boolean (H, W) mask of the pixels whose centres lie in any of ``rects`` (k, 4)."""
    mask = np.zeros(shape, dtype=bool)
    size = np.array([shape[1], shape[0]])
    # pixel (col, row) has its centre at (col + 0.5, row + 0.5)
    lo = np.ceil(np.clip(rects[:, :2] - 0.5, 0, size)).astype(int)
    hi = np.floor(np.clip(rects[:, 2:] - 0.5, -1, size - 1)).astype(int)
    for (c0, r0), (c1, r1) in zip(lo.tolist(), hi.tolist(), strict=True):
        if c0 <= c1 and r0 <= r1:
            mask[r0 : r1 + 1, c0 : c1 + 1] = True
    return mask


def grouped_alone_counts(
    env: PandaTaskEnv, bodies: list[int], segmentation: np.ndarray
) -> dict[int, int]:
    """The counts of :func:`alone_pixel_counts` with fewer renders (see the notes above);
    ``segmentation`` is the main render's body-id mask."""
    c = env.scene.client
    all_bodies = [c.getBodyUniqueId(i) for i in range(c.getNumBodies())]
    rows = {b: list(c.getVisualShapeData(b)) for b in all_bodies}
    clear, groups = plan_alone_renders(env, bodies, rows)
    counts = {b: int(np.count_nonzero(segmentation == b)) for b in clear}
    if not groups:
        return counts
    drawn = [(b, r[1], r[7]) for b in all_bodies for r in rows[b] if r[7][3] > 0]
    shown = {(b, link) for b, link, _ in drawn}

    def show(wanted: set[tuple[int, int]]) -> None:
        for b, link, rgba in drawn:
            if (b, link) in shown and (b, link) not in wanted:
                c.changeVisualShape(b, link, rgbaColor=[*rgba[:3], 0.0])
            elif (b, link) in wanted and (b, link) not in shown:
                c.changeVisualShape(b, link, rgbaColor=list(rgba))
        shown.clear()
        shown.update(wanted)

    try:
        for group in groups:
            show({(job.body, link) for job in group for link in job.links})
            seg = env.camera.render(rgb=False, segmentation=True).segmentation
            assert seg is not None
            for job in group:
                hazard = _in_rects(seg.shape, job.hazard)
                outside = np.count_nonzero((segmentation == job.body) & ~hazard)
                counts[job.body] = int(outside + np.count_nonzero((seg == job.body) & hazard))
    finally:
        show({(b, link) for b, link, _ in drawn})
    return counts


def local_box(env: PandaTaskEnv, name: str) -> np.ndarray | None:
    """Half extents of a body's axis-aligned box in its own frame (None for the robot)."""
    if name == "robot":
        return None
    cache = env.scene.store.setdefault("labels/local_box", {})
    if name not in cache:
        c = env.scene.client
        body = env.scene.sim.body(name)
        pos, orn = c.getBasePositionAndOrientation(body)
        c.resetBasePositionAndOrientation(body, [0, 0, 50], [0, 0, 0, 1])
        lo, hi = c.getAABB(body)
        c.resetBasePositionAndOrientation(body, pos, orn)
        centre = (np.array(lo) + np.array(hi)) / 2 - np.array([0, 0, 50])
        cache[name] = (centre, (np.array(hi) - np.array(lo)) / 2)
        env.scene.sim.cache.clear()
    return cache[name]


_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])


def sample_labels(
    env: PandaTaskEnv, segmentation: np.ndarray, visibility: bool = True
) -> dict[str, Any]:
    """Labels of the current frame; ``segmentation`` is the body-id mask of that frame."""
    c = env.scene.client
    cam = env.camera
    T = cam.extrinsics
    objects = labelled_objects(env)
    bodies = [env.scene.sim.body(n) for n, _ in objects]
    alone = grouped_alone_counts(env, bodies, segmentation) if visibility else {}
    out = []
    for instance, ((name, category), body) in enumerate(zip(objects, bodies, strict=True), start=1):
        pos, orn = c.getBasePositionAndOrientation(body)
        R_w = np.array(c.getMatrixFromQuaternion(orn)).reshape(3, 3)
        p_cam = T[:3, :3] @ np.array(pos) + T[:3, 3]
        R_cam = T[:3, :3] @ R_w
        mask = segmentation == body
        visible = int(mask.sum())
        entry: dict[str, Any] = {
            "instance": instance,
            "name": name,
            "category": category,
            "body": body,
            "world_pose": {"position": list(pos), "quaternion": list(orn)},
            "camera_pose": {
                "position": p_cam.tolist(),
                "quaternion": _quat_from_matrix(R_cam),
                "rotation": R_cam.tolist(),
            },
            "bbox": box_from_mask(mask),
            "visible_pixels": visible,
        }
        if visibility:
            total = alone[body]
            entry["pixels_alone"] = total
            entry["visible_fraction"] = visible / total if total else 0.0
        box = local_box(env, name)
        if box is not None:
            centre, half = box
            corners = (centre + _BOX_SIGNS * half) @ R_w.T + np.array(pos)
            entry["box3d_corners_px"] = np.round(cam.project(corners), 3).tolist()
        out.append(entry)
    return {"objects": out, "camera": cam.info()}
