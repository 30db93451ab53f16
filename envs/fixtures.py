"""Fixtures: static bins, shelves, walls and boards composed into the scene before its
snapshot, from a URDF or SDF, an OBJ/STL mesh or a primitive, with pose and scale.

``gym.make(id, fixtures=[FixtureSpec("tray/traybox.urdf", position=(0.55, 0.3), scale=0.5)])``
loads them once; every reset restores them with the rest of the world, the table-height
randomizer moves them with the table, and object and distractor placement keep clear of
their footprints (:mod:`randomizers.placement`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envs.sim import Simulation

PRIMITIVES = ("box", "cylinder", "sphere")
MESH_EXTENSIONS = (".obj", ".stl")
MODEL_EXTENSIONS = (".urdf", ".sdf")
OVERLAP_TOLERANCE = 0.002  # m: touching fixtures (a bin against a wall) do not overlap


@dataclass(frozen=True)
class FixtureSpec:
    """A static body of the scene.

    Args:
        source: a URDF or SDF (relative to ``pybullet_data`` or a path), an OBJ/STL mesh
            (loaded as a static concave mesh: no decomposition needed), or a primitive
            ``"box"``, ``"cylinder"``, ``"sphere"``.
        position: ``(x, y)``: resting on the table top at that point (the lowest point of
            the body touches the top), or ``(x, y, z)`` with ``z`` the height of that lowest
            point above the table top (``on_table``) or the world z of the base (not).
        yaw: turn about the vertical axis (radians).
        scale: uniform scale of a model or mesh.
        size: primitives only: half extents (box), radius (sphere), radius and length
            (cylinder), in metres.
        rgba: colour of primitives and meshes.
        name: body name (default ``fixture0``, ``fixture1``, ...).
        on_table: stands on the table: moves with it (table-height randomizer) and must lie
            over it; ``False`` for fixtures on the floor.
    """

    source: str
    position: tuple[float, ...] = (0.5, 0.0)
    yaw: float = 0.0
    scale: float = 1.0
    size: tuple[float, ...] | None = None
    rgba: tuple[float, float, float, float] = (0.55, 0.45, 0.35, 1.0)
    name: str | None = None
    on_table: bool = True

    def __post_init__(self) -> None:
        where = f"FixtureSpec({self.source!r})"
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(
                f"FixtureSpec.source must be a file path or one of {PRIMITIVES}, got {self.source!r}"
            )
        ext = os.path.splitext(self.source)[1].lower()
        if self.source not in PRIMITIVES and ext not in (*MODEL_EXTENSIONS, *MESH_EXTENSIONS):
            raise ValueError(
                f"{where}: source must be a .urdf, .sdf, .obj or .stl file or one of "
                f"{', '.join(PRIMITIVES)}, got {self.source!r}"
            )
        object.__setattr__(self, "position", _numbers(self.position, (2, 3), f"{where}.position"))
        object.__setattr__(self, "rgba", _numbers(self.rgba, (4,), f"{where}.rgba"))
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"{where}.scale must be a finite number > 0, got {self.scale!r}")
        if not math.isfinite(self.yaw):
            raise ValueError(f"{where}.yaw must be finite, got {self.yaw!r}")
        if self.source in PRIMITIVES:
            n = {"box": 3, "sphere": 1, "cylinder": 2}[self.source]
            if self.size is None:
                raise ValueError(f"{where}: a {self.source} needs size ({n} numbers in metres)")
            size = _numbers(self.size, (n,), f"{where}.size")
            if min(size) <= 0:
                raise ValueError(f"{where}.size must be > 0, got {size}")
            object.__setattr__(self, "size", size)
        elif self.size is not None:
            raise ValueError(f"{where}: size is for primitives only; use scale for a model or mesh")

    @classmethod
    def from_value(cls, value: FixtureSpec | Mapping[str, Any]) -> FixtureSpec:
        """A spec from a spec or a dict of its fields (unknown keys list the known ones)."""
        if isinstance(value, FixtureSpec):
            return value
        if isinstance(value, Mapping):
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(value) - known)
            if unknown:
                raise ValueError(f"unknown FixtureSpec field(s) {unknown}; known: {sorted(known)}")
            return cls(**dict(value))
        raise TypeError(
            f"a fixture must be a FixtureSpec or a dict of its fields, got {type(value).__name__}"
        )


@dataclass(frozen=True)
class Fixture:
    """A loaded fixture: its body and world AABB at the nominal table height."""

    name: str
    body: int
    spec: FixtureSpec
    low: tuple[float, float, float]
    high: tuple[float, float, float]


def _numbers(value: Any, lengths: tuple[int, ...], where: str) -> tuple[float, ...]:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{where}: expected {' or '.join(map(str, lengths))} numbers, got {value!r}"
        ) from None
    if len(out) not in lengths or not all(math.isfinite(v) for v in out):
        raise ValueError(
            f"{where}: expected {' or '.join(map(str, lengths))} finite numbers, got {value!r}"
        )
    return out


def body_aabb(client: Any, body: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """World AABB (low, high) of every link of a body together."""
    boxes = [client.getAABB(body, link) for link in range(-1, client.getNumJoints(body))]
    low = tuple(min(b[0][i] for b in boxes) for i in range(3))
    high = tuple(max(b[1][i] for b in boxes) for i in range(3))
    return low, high


def _load_body(sim: Simulation, name: str, spec: FixtureSpec, orn: Sequence[float]) -> int:
    c = sim.client
    source = spec.source
    try:
        if source in PRIMITIVES:
            assert spec.size is not None
            body = sim.create_primitive(name, source, spec.size, mass=0.0,
                                        position=(0.0, 0.0, 0.0), rgba=spec.rgba)  # fmt: skip
            c.resetBasePositionAndOrientation(body, [0, 0, 0], list(orn))
            return body
        ext = os.path.splitext(source)[1].lower()
        if ext == ".urdf":
            return sim._add(name, c.loadURDF(source, [0, 0, 0], list(orn), useFixedBase=True,
                                              globalScaling=spec.scale))  # fmt: skip
        if ext == ".sdf":
            bodies = c.loadSDF(source, globalScaling=spec.scale)
            if len(bodies) != 1:
                for b in bodies:
                    c.removeBody(b)
                raise ValueError(f"fixture {name!r}: {source!r} holds {len(bodies)} models; "
                                 "a fixture SDF must hold exactly one")  # fmt: skip
            c.changeDynamics(bodies[0], -1, mass=0.0)  # SDF has no fixed-base flag
            c.resetBasePositionAndOrientation(bodies[0], [0, 0, 0], list(orn))
            return sim._add(name, bodies[0])
        scale = [spec.scale] * 3
        col = c.createCollisionShape(c.GEOM_MESH, fileName=source, meshScale=scale,
                                     flags=c.GEOM_FORCE_CONCAVE_TRIMESH)  # fmt: skip
        vis = c.createVisualShape(c.GEOM_MESH, fileName=source, meshScale=scale,
                                  rgbaColor=list(spec.rgba))  # fmt: skip
        if col < 0 or vis < 0:
            raise ValueError("PyBullet could not read the mesh")
        body = c.createMultiBody(baseMass=0.0, baseCollisionShapeIndex=col,
                                 baseVisualShapeIndex=vis, baseOrientation=list(orn))  # fmt: skip
        return sim._add(name, body)
    except ValueError:
        raise
    except Exception as exc:  # pybullet.error says only "Cannot load ... file"
        raise ValueError(f"fixture {name!r}: PyBullet cannot load {source!r} ({exc})") from exc


def load_fixture(
    sim: Simulation,
    name: str,
    spec: FixtureSpec,
    table_top: float,
    table_low: Sequence[float],
    table_high: Sequence[float],
) -> Fixture:
    """Load ``spec`` as static body ``name`` and put it at its pose (see :class:`FixtureSpec`)."""
    c = sim.client
    orn = c.getQuaternionFromEuler([0.0, 0.0, spec.yaw])
    body = _load_body(sim, name, spec, orn)
    low, _ = body_aabb(c, body)  # at the origin: the bottom's offset from the base
    x, y = spec.position[:2]
    if spec.on_table:
        above = spec.position[2] if len(spec.position) == 3 else 0.0
        z = table_top + above - low[2]
        if not (table_low[0] <= x <= table_high[0] and table_low[1] <= y <= table_high[1]):
            raise ValueError(
                f"fixture {name!r} at (x, y) = ({x}, {y}) is not over the table top "
                f"({tuple(table_low)}..{tuple(table_high)}); move it, or set on_table=False "
                "for a fixture on the floor"
            )
    else:
        z = spec.position[2] if len(spec.position) == 3 else -low[2]
    c.resetBasePositionAndOrientation(body, [x, y, z], list(orn))
    lo, hi = body_aabb(c, body)
    return Fixture(name, body, spec, lo, hi)  # type: ignore[arg-type]


def check_overlaps(fixtures: Sequence[Fixture]) -> None:
    """Raise on the first two fixtures whose boxes overlap (more than touching)."""
    for i, a in enumerate(fixtures):
        for b in fixtures[i + 1 :]:
            depth = min(min(a.high[k], b.high[k]) - max(a.low[k], b.low[k]) for k in range(3))
            if depth > OVERLAP_TOLERANCE:
                raise ValueError(
                    f"fixtures {a.name!r} ({a.spec.source}, box {_box(a)}) and {b.name!r} "
                    f"({b.spec.source}, box {_box(b)}) overlap by {depth * 100:.1f} cm; move one"
                )


def _box(f: Fixture) -> str:
    return f"{tuple(round(v, 3) for v in f.low)}..{tuple(round(v, 3) for v in f.high)}"


def resolve_fixtures(values: Sequence[FixtureSpec | Mapping[str, Any]] | None) -> list[FixtureSpec]:
    """Specs from the env's ``fixtures=`` argument (specs or dicts), validated."""
    if values is None:
        return []
    if isinstance(values, (FixtureSpec, Mapping, str)):
        raise TypeError("fixtures must be a list of FixtureSpec (or dicts), got a single "
                        f"{type(values).__name__}; wrap it in a list")  # fmt: skip
    return [FixtureSpec.from_value(v) for v in values]


__all__ = [
    "PRIMITIVES",
    "Fixture",
    "FixtureSpec",
    "check_overlaps",
    "load_fixture",
    "resolve_fixtures",
]  # fmt: skip
