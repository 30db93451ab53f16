"""Per-sample labels: object poses (world and camera frame), boxes, masks, visible fractions,
projected 3D box corners, camera intrinsics and extrinsics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from envs.camera import Camera
from envs.dataset.visibility import grouped_alone_counts
from envs.objects.categories import BASE_CATEGORIES
from envs.panda_env import PandaTaskEnv

CATEGORIES: tuple[str, ...] = BASE_CATEGORIES  # ids 1-5 always; an export's list: its manifest


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


def local_box(env: PandaTaskEnv, name: str) -> np.ndarray | None:
    """Half extents of a body's axis-aligned box in its own frame (None for the robot)."""
    if name == "robot":
        return None
    cache = env.scene.store.setdefault("labels/local_box", {})
    if name not in cache:
        # every body not yet measured at once (a distractor pool's 256 share one saved
        # state, which costs as much as measuring them all)
        sim = env.scene.sim
        todo = [n for n in sim.bodies if n not in cache and n != "robot"]
        cache.update(_local_boxes(env, todo if name in todo else [name, *todo]))
    return cache[name]


def _local_boxes(env: PandaTaskEnv, names: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(centre, half extents) of each named body's box in its own frame: its AABB with the
    body moved to an identity pose far above the scene, the state restored after."""
    c = env.scene.client
    # moving a body back would round its pose (1 ulp in ~1 of 12 cases), and a second
    # camera's labels of the same frame would see that: restore the state bit for bit
    state = c.saveState()
    out = {}
    for name in names:
        body = env.scene.sim.body(name)
        c.resetBasePositionAndOrientation(body, [0, 0, 50], [0, 0, 0, 1])
        lo, hi = c.getAABB(body)
        centre = (np.array(lo) + np.array(hi)) / 2 - np.array([0, 0, 50])
        out[name] = (centre, (np.array(hi) - np.array(lo)) / 2)
    c.restoreState(state)
    c.removeState(state)
    env.scene.sim.cache.clear()
    return out


def body_index(segmentation: np.ndarray, bodies: list[int]) -> np.ndarray:
    """(H, W) index into ``bodies`` of each pixel's body in a body-id ``segmentation``;
    ``len(bodies)`` where the pixel shows none of them (or the background, -1)."""
    seg = np.asarray(segmentation)
    top = max(int(seg.max()), *bodies) + 2 if bodies else int(seg.max()) + 2
    lut = np.full(top, len(bodies), dtype=np.intp)
    lut[np.asarray(bodies, dtype=np.intp) + 1] = np.arange(len(bodies))
    return lut[seg + 1]


def mask_stats(segmentation: np.ndarray, bodies: list[int]) -> tuple[list[int], list[Any]]:
    """Pixel count and tight [x, y, width, height] box (None when absent) of each of
    ``bodies`` in a body-id ``segmentation``, in one pass over the image."""
    n = len(bodies)
    if n == 0:
        return [], []
    index = body_index(segmentation, bodies)
    counts = np.bincount(index.ravel(), minlength=n + 1)[:n].tolist()
    h, w = index.shape
    in_row = np.zeros((h, n + 1), dtype=bool)
    in_row[np.arange(h)[:, None], index] = True
    in_col = np.zeros((w, n + 1), dtype=bool)
    in_col[np.arange(w)[None, :], index] = True
    r0, r1 = in_row.argmax(axis=0).tolist(), (h - 1 - in_row[::-1].argmax(axis=0)).tolist()
    c0, c1 = in_col.argmax(axis=0).tolist(), (w - 1 - in_col[::-1].argmax(axis=0)).tolist()
    boxes = [[c0[i], r0[i], c1[i] - c0[i] + 1, r1[i] - r0[i] + 1] if counts[i] else None
             for i in range(n)]  # fmt: skip
    return counts, boxes


_BOX_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)])


def sample_labels(
    env: PandaTaskEnv,
    segmentation: np.ndarray,
    visibility: bool = True,
    camera: Camera | None = None,
) -> dict[str, Any]:
    """Labels of the current frame of ``camera`` (default: the env's main camera);
    ``segmentation`` is the body-id mask of that frame."""
    c = env.scene.client
    cam = camera or env.camera
    T = cam.extrinsics
    objects = labelled_objects(env)
    bodies = [env.scene.sim.body(n) for n, _ in objects]
    pixels, boxes = mask_stats(segmentation, bodies)
    alone = grouped_alone_counts(env, bodies, segmentation, cam, pixels) if visibility else {}
    out = []
    boxed: list[tuple[dict[str, Any], np.ndarray]] = []  # entries and 3D box corners
    for instance, ((name, category), body) in enumerate(zip(objects, bodies, strict=True), start=1):
        pos, orn = c.getBasePositionAndOrientation(body)
        R_w = np.array(c.getMatrixFromQuaternion(orn)).reshape(3, 3)
        p_cam = T[:3, :3] @ np.array(pos) + T[:3, 3]
        R_cam = T[:3, :3] @ R_w
        visible = pixels[instance - 1]
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
            "bbox": boxes[instance - 1],
            "visible_pixels": visible,
        }
        if visibility:
            total = alone[body]
            entry["pixels_alone"] = total
            entry["visible_fraction"] = visible / total if total else 0.0
        box = local_box(env, name)
        if box is not None:
            centre, half = box
            boxed.append((entry, (centre + _BOX_SIGNS * half) @ R_w.T + np.array(pos)))
        out.append(entry)
    if boxed:  # every object's corners in one projection
        corners = np.concatenate([box_corners for _, box_corners in boxed])
        projected = np.round(cam.project(corners), 3).reshape(-1, 8, 2).tolist()
        for (entry, _), px in zip(boxed, projected, strict=True):
            entry["box3d_corners_px"] = px
    return {"objects": out, "camera": cam.info()}
