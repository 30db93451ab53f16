"""What an object is: a URDF, an OBJ/STL mesh or a primitive, with scale, mass and category.

An :class:`ObjectSpec` is plain, hashable data: tasks, randomizers and presets pass it (or a
built-in name, a path, or a dict of its fields) and the scene loads it
(:func:`envs.objects.loader.load_object`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import pybullet_data

PRIMITIVES = ("box", "sphere", "cylinder")
PRIMITIVE_SIZES = {"box": 3, "sphere": 1, "cylinder": 2}  # half extents; radius; radius, length
URDF_SUFFIXES = (".urdf",)
MESH_SUFFIXES = (".obj", ".stl")
DEFAULT_MASS = 0.1  # kg, for primitives and meshes without a mass of their own


def _numbers(value: Any, n: int | None, what: str) -> tuple[float, ...]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (list, tuple)) or (n is not None and len(value) != n):
        raise ValueError(
            f"{what} needs {n if n is not None else 'a list of'} numbers, got {value!r}"
        )
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{what} needs finite numbers, got {value!r}")
        out.append(float(v))
    return tuple(out)


@dataclass(frozen=True)
class ObjectSpec:
    """One object a task or a randomizer can place on the table.

    Args:
        source: ``"box"``, ``"sphere"``, ``"cylinder"``, or the path of a ``.urdf``, ``.obj``
            or ``.stl`` file (absolute, relative to the working folder, or to ``pybullet_data``).
        size: primitives only, in metres: box half extents (x, y, z), sphere (radius,),
            cylinder (radius, length).
        scale: uniform scale (URDF ``globalScaling``, mesh scale, primitive size factor).
        mass: kg; ``None``: the URDF's own, 0.1 kg for primitives and meshes.
        category: the label in datasets (COCO, BOP, contact sheet); default: the file stem or
            the primitive's shape.
        rgba: a colour for primitives and meshes (URDFs keep their own unless given).
        rest_rpy: roll, pitch, yaw (radians) of the object at rest before the task's yaw, to
            stand a model upright (``R = Rz(yaw) Ry(pitch) Rx(roll)``).
        friction: lateral friction of the contact surfaces.
        vhacd_resolution: voxel resolution of the convex decomposition of a mesh.
    """

    source: str
    size: tuple[float, ...] = ()
    scale: float = 1.0
    mass: float | None = None
    category: str = ""
    rgba: tuple[float, ...] | None = None
    rest_rpy: tuple[float, ...] = (0.0, 0.0, 0.0)
    friction: float = 1.0
    vhacd_resolution: int = 50_000

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(
                f"ObjectSpec.source must be a shape or a file path, got {self.source!r}"
            )
        kind = self.kind
        if kind == "primitive":
            n = PRIMITIVE_SIZES[self.source]
            size = _numbers(self.size, n, f"ObjectSpec.size of a {self.source}")
            if any(v <= 0 for v in size):
                raise ValueError(f"ObjectSpec.size must be > 0 metres, got {self.size!r}")
            object.__setattr__(self, "size", size)
        elif self.size:
            raise ValueError(f"ObjectSpec.size is for primitives only; {self.source!r} is a file")
        scale = _numbers(self.scale, 1, "ObjectSpec.scale")[0]
        if scale <= 0:
            raise ValueError(f"ObjectSpec.scale must be > 0, got {self.scale!r}")
        object.__setattr__(self, "scale", scale)
        if self.mass is not None:
            mass = _numbers(self.mass, 1, "ObjectSpec.mass")[0]
            if mass <= 0:
                raise ValueError(f"ObjectSpec.mass must be > 0 kg (or None), got {self.mass!r}")
            object.__setattr__(self, "mass", mass)
        if self.rgba is not None:
            rgba = _numbers(self.rgba, 4, "ObjectSpec.rgba")
            if any(not 0 <= v <= 1 for v in rgba):
                raise ValueError(f"ObjectSpec.rgba needs 4 numbers in [0, 1], got {self.rgba!r}")
            object.__setattr__(self, "rgba", rgba)
        object.__setattr__(self, "rest_rpy", _numbers(self.rest_rpy, 3, "ObjectSpec.rest_rpy"))
        friction = _numbers(self.friction, 1, "ObjectSpec.friction")[0]
        if friction < 0:
            raise ValueError(f"ObjectSpec.friction must be >= 0, got {self.friction!r}")
        object.__setattr__(self, "friction", friction)
        if isinstance(self.vhacd_resolution, bool) or not isinstance(self.vhacd_resolution, int) \
                or not 10_000 <= self.vhacd_resolution <= 64_000_000:  # fmt: skip
            raise ValueError(
                f"ObjectSpec.vhacd_resolution must be an int in [10000, 64000000], "
                f"got {self.vhacd_resolution!r}"
            )
        if not isinstance(self.category, str):
            raise ValueError(f"ObjectSpec.category must be text, got {self.category!r}")
        if not self.category:
            stem = self.source if kind == "primitive" else Path(self.source).stem
            object.__setattr__(self, "category", re.sub(r"_vhacd$", "", stem))

    @property
    def kind(self) -> str:
        """``"primitive"``, ``"urdf"`` or ``"mesh"``."""
        if self.source in PRIMITIVES:
            return "primitive"
        suffix = Path(self.source).suffix.lower()
        if suffix in URDF_SUFFIXES:
            return "urdf"
        if suffix in MESH_SUFFIXES:
            return "mesh"
        raise ValueError(
            f"ObjectSpec.source {self.source!r} is neither a primitive ({', '.join(PRIMITIVES)}) "
            f"nor a file ending in {', '.join(URDF_SUFFIXES + MESH_SUFFIXES)}"
        )

    def path(self) -> Path:
        """The file of a URDF or mesh spec: as given, else inside ``pybullet_data``; a
        ``FileNotFoundError`` names it when it is in neither place."""
        given = Path(self.source).expanduser()
        if given.is_file():
            return given.resolve()
        packaged = Path(pybullet_data.getDataPath()) / self.source
        if not given.is_absolute() and packaged.is_file():
            return packaged
        raise FileNotFoundError(
            f"object file {self.source!r} not found (looked at {str(given.resolve())!r}"
            + ("" if given.is_absolute() else f" and in pybullet_data, {str(packaged)!r}")
            + ")"
        )

    def scaled(self, factor: float) -> ObjectSpec:
        """The same object ``factor`` times larger (mass unchanged)."""
        return replace(self, scale=self.scale * float(factor))


SPEC_FIELDS = tuple(f.name for f in fields(ObjectSpec))


def spec_from_mapping(value: Mapping[str, Any], builtin: Mapping[str, ObjectSpec]) -> ObjectSpec:
    """An :class:`ObjectSpec` from a dict of its fields, or ``{"name": <built-in>, ...}``
    with fields that override the built-in's (``scale`` multiplies it)."""
    data = dict(value)
    unknown = sorted(set(data) - {*SPEC_FIELDS, "name"})
    if unknown:
        raise ValueError(
            f"unknown object field(s) {unknown}; allowed: name (a built-in object), "
            f"{', '.join(SPEC_FIELDS)}"
        )
    for key in ("size", "rgba", "rest_rpy"):
        if isinstance(data.get(key), list):
            data[key] = tuple(data[key])
    name = data.pop("name", None)
    if name is None:
        if "source" not in data:
            raise ValueError(
                f"an object dict needs 'source' (a shape or a file) or 'name' (a built-in "
                f"object: {', '.join(builtin)}), got {dict(value)!r}"
            )
        return ObjectSpec(**data)
    base = builtin_spec(name, builtin)
    if "scale" in data:
        data["scale"] = base.scale * _numbers(data["scale"], 1, "object scale")[0]
    return replace(base, **data)


def builtin_spec(name: Any, builtin: Mapping[str, ObjectSpec]) -> ObjectSpec:
    """The built-in object ``name``; a ``ValueError`` lists the built-in names otherwise."""
    try:
        return builtin[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown object {name!r}; built-in objects: {', '.join(builtin)}; or give the path "
            f"of a .urdf, .obj or .stl file, a dict of ObjectSpec fields, or an ObjectSpec"
        ) from None
