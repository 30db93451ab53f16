"""Objects as configuration: specs, the built-in household set, loading and categories.

``resolve_object("mug")``, ``resolve_object("path/to/part.obj")``,
``resolve_object({"name": "duck", "scale": 1.2})`` or ``resolve_object(ObjectSpec(...))``
give an :class:`ObjectSpec`; the scene loads it (``TableScene.add_object``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from envs.objects.builtin import BUILTIN_OBJECTS, CUBE
from envs.objects.loader import ObjectBody, load_object
from envs.objects.spec import MESH_SUFFIXES, PRIMITIVES, URDF_SUFFIXES, ObjectSpec, builtin_spec
from envs.objects.spec import spec_from_mapping as _from_mapping


def resolve_object(value: Any) -> ObjectSpec:
    """An :class:`ObjectSpec` from a built-in name, a file path, a dict or a spec.

    A name that is neither built in nor a path fails listing the built-in names; a path
    that does not exist fails naming the file.
    """
    if isinstance(value, ObjectSpec):
        return value
    if isinstance(value, Mapping):
        return _from_mapping(value, BUILTIN_OBJECTS)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str) and value not in BUILTIN_OBJECTS:
        if Path(value).suffix.lower() in URDF_SUFFIXES + MESH_SUFFIXES:
            spec = ObjectSpec(value)
            spec.path()  # a missing file fails now, naming it
            return spec
        if value in PRIMITIVES:
            raise ValueError(
                f"object {value!r} needs a size: ObjectSpec({value!r}, size=...) or "
                f"{{'source': {value!r}, 'size': [...]}}; built-in objects: "
                f"{', '.join(BUILTIN_OBJECTS)}"
            )
    return builtin_spec(value, BUILTIN_OBJECTS)


__all__ = [
    "BUILTIN_OBJECTS",
    "CUBE",
    "ObjectBody",
    "ObjectSpec",
    "load_object",
    "resolve_object",
]
