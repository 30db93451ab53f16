"""Loading an :class:`ObjectSpec` into a simulation, and what the scene keeps about it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.objects.mesh import convex_decomposition, obj_file
from envs.objects.spec import DEFAULT_MASS, ObjectSpec
from envs.sim import Simulation, pybullet

PROBE = (0.0, 0.0, 50.0)  # where a new body is measured, far from everything


@dataclass
class ObjectBody:
    """A loaded object: its body, spec and upright box.

    ``centre`` and ``half`` describe the axis-aligned box of the object at rest with yaw 0,
    relative to its base origin (metres); ``rest_z`` is the height of the base origin above
    the object's lowest point, so it rests on a surface at ``surface + rest_z``.
    """

    name: str
    body: int
    spec: ObjectSpec
    centre: np.ndarray
    half: np.ndarray
    rest_orientation: tuple[float, float, float, float]
    mass: float
    park: tuple[float, float, float]
    static: bool = False
    pooled: bool = False

    @property
    def category(self) -> str:
        """The object's label category."""
        return self.spec.category

    @property
    def rest_z(self) -> float:
        return float(self.half[2] - self.centre[2])

    def orientation(self, client, yaw: float) -> tuple[float, ...]:
        """Quaternion (x, y, z, w) of the object at rest turned by ``yaw`` about z."""
        if self.rest_orientation == (0.0, 0.0, 0.0, 1.0):
            return tuple(client.getQuaternionFromEuler([0.0, 0.0, yaw]))
        turn = client.getQuaternionFromEuler([0.0, 0.0, yaw])
        return tuple(client.multiplyTransforms([0, 0, 0], turn, [0, 0, 0],
                                               self.rest_orientation)[1])  # fmt: skip

    def world_box(self, position: Sequence[float], yaw: float) -> tuple[np.ndarray, np.ndarray]:
        """Centre and half extents (world axes) of the upright object at ``position``, ``yaw``."""
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, -s], [s, c]])
        centre = np.asarray(position, dtype=float).copy()
        centre[:2] += rot @ self.centre[:2]
        centre[2] += self.centre[2]
        half = self.half.copy()
        half[:2] = np.abs(rot) @ self.half[:2]
        return centre, half


def _primitive_box(spec: ObjectSpec) -> np.ndarray:
    size = np.array(spec.size) * spec.scale
    if spec.source == "box":
        return size
    if spec.source == "sphere":
        return np.full(3, size[0])
    return np.array([size[0], size[0], size[1] / 2])


def load_object(
    sim: Simulation,
    name: str,
    spec: ObjectSpec,
    position: Sequence[float],
    *,
    static: bool = False,
    pooled: bool = False,
) -> ObjectBody:
    """Create ``spec`` as body ``name`` at rest orientation, base at ``position``.

    ``static``: fixed in the world (mass 0), as distractors are. Primitives are created with
    exactly the calls the cube always used (the default scene is unchanged); files are
    loaded at a probe point first to measure their box, then moved to ``position``.
    """
    c = sim.client
    rest = tuple(c.getQuaternionFromEuler(list(spec.rest_rpy)))
    mass = 0.0 if static else (spec.mass if spec.mass is not None else DEFAULT_MASS)
    if spec.kind == "primitive":
        size = tuple(float(v) * spec.scale for v in spec.size)
        body = sim.create_primitive(
            name, spec.source, size, mass=mass, position=position,
            rgba=spec.rgba or (0.8, 0.8, 0.8, 1.0),
        )  # fmt: skip
        if rest != (0.0, 0.0, 0.0, 1.0):
            c.resetBasePositionAndOrientation(body, list(position), list(rest))
        half = _primitive_box(spec)
        centre = np.zeros(3)
        if rest != (0.0, 0.0, 0.0, 1.0):
            centre, half = _measure(c, body, position, rest)
    else:
        body = _load_file(sim, name, spec, rest, static)
        if spec.kind == "urdf" and not static and spec.mass is None:
            mass = float(c.getDynamicsInfo(body, -1)[0]) or DEFAULT_MASS
        centre, half = _measure(c, body, position, rest)
    if not static:
        if spec.kind != "primitive":
            c.changeDynamics(body, -1, mass=mass)
        c.changeDynamics(
            body, -1, lateralFriction=spec.friction, spinningFriction=0.001, rollingFriction=0.0001
        )
    x, y, z = (float(v) for v in position)
    return ObjectBody(name, body, spec, centre, half, rest, mass,  # type: ignore[arg-type]
                      (x, y, z), static, pooled)  # fmt: skip


def _load_file(
    sim: Simulation, name: str, spec: ObjectSpec, rest: tuple[float, ...], static: bool
) -> int:
    c = sim.client
    path = spec.path()
    try:
        if spec.kind == "urdf":
            body = c.loadURDF(str(path), list(PROBE), list(rest), useFixedBase=static,
                              globalScaling=spec.scale)  # fmt: skip
        else:
            mesh = obj_file(path)
            collision = convex_decomposition(mesh, spec.vhacd_resolution)
            scale = [spec.scale] * 3
            vis = c.createVisualShape(c.GEOM_MESH, fileName=str(mesh), meshScale=scale,
                                      rgbaColor=list(spec.rgba or (0.8, 0.8, 0.8, 1.0)))  # fmt: skip
            col = c.createCollisionShape(c.GEOM_MESH, fileName=str(collision), meshScale=scale)
            if vis < 0 or col < 0:
                raise pybullet.error("createVisualShape/createCollisionShape failed")
            body = c.createMultiBody(
                baseMass=0.0 if static else (spec.mass or DEFAULT_MASS),
                baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                basePosition=list(PROBE), baseOrientation=list(rest),
            )  # fmt: skip
    except pybullet.error as exc:
        raise ValueError(f"cannot load object file {str(path)!r}: {exc}") from None
    if spec.kind == "urdf" and spec.rgba is not None:
        for link in range(-1, c.getNumJoints(body)):
            c.changeVisualShape(body, link, rgbaColor=list(spec.rgba))
    return sim._add(name, body)


def _measure(client, body: int, position: Sequence[float], rest: Sequence[float]):
    """Box (centre relative to the base origin, half extents) of a body at ``rest``
    orientation, measured at the probe point; then the body is moved to ``position``."""
    client.resetBasePositionAndOrientation(body, list(PROBE), list(rest))
    lo, hi = (np.array(v) for v in client.getAABB(body))
    for link in range(client.getNumJoints(body)):
        llo, lhi = client.getAABB(body, link)
        lo, hi = np.minimum(lo, llo), np.maximum(hi, lhi)
    # an AABB holds the collision margin (a few mm for meshes): the real bottom and top come
    # from vertical rays over an 11 x 11 grid, so the object rests on the table, not above it
    xs, ys = np.meshgrid(np.linspace(lo[0], hi[0], 11), np.linspace(lo[1], hi[1], 11))
    below = [[x, y, lo[2] - 0.01] for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    above = [[x, y, hi[2] + 0.01] for x, y in zip(xs.ravel(), ys.ravel(), strict=True)]
    up = [h[3][2] for h in client.rayTestBatch(below, above) if h[0] == body]
    down = [h[3][2] for h in client.rayTestBatch(above, below) if h[0] == body]
    if up and down:
        lo[2], hi[2] = min(up), max(down)
    client.resetBasePositionAndOrientation(body, list(position), list(rest))
    return (lo + hi) / 2 - np.array(PROBE), (hi - lo) / 2
