"""Pooled object bodies: objects a randomizer swaps in per episode, loaded once per scene.

PyBullet cannot change a body's shape or size after it is created, so a choice of target or
scale is a set of bodies created at setup (before the env's snapshot), parked without mass,
and swapped in by the scene: a reset loads nothing, and replaying params gives the same
world. The scene loads objects itself (randomizers never import the environments): this
module types the few scene methods that do it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, cast

from randomizers.errors import PresetError
from randomizers.scene import Scene

VARIANTS = "objects/variants"  # scene.store: (base body, scale) -> body name
BASE_OF = "objects/base_of"  # scene.store: body name -> (base body, scale)
CANDIDATES = "objects/candidates"  # scene.store: base bodies a target choice may swap in


class ObjectScene(Scene, Protocol):
    """A scene that loads and swaps objects (``envs.scene.TableScene``)."""

    @property
    def objects(self) -> Mapping[str, Any]:
        """Loaded objects by body name (each with its ``spec``)."""

    def resolve_object(self, value: Any) -> Any:
        """The object spec of a built-in name, a path, a dict or a spec (errors list names)."""

    def add_object(
        self, name: str, spec: Any, *, position: Sequence[float] | None = None,
        static: bool = False, pooled: bool = False,
    ) -> Any:  # fmt: skip
        """Load an object as body ``name``; ``pooled``: parked until swapped in."""

    def swap_object(self, role: str, name: str) -> None:
        """Put body ``name`` where the first body of ``role`` is, and park that one."""


def object_scene(scene: Scene, who: str) -> ObjectScene:
    """``scene`` as an :class:`ObjectScene`; a ``TypeError`` when it cannot load objects."""
    missing = [a for a in ("objects", "resolve_object", "add_object", "swap_object")
               if not hasattr(scene, a)]  # fmt: skip
    if missing:
        raise TypeError(
            f"{who}: the scene {type(scene).__name__} cannot load objects (it lacks "
            f"{', '.join(missing)}); use the env's TableScene"
        )
    return cast(ObjectScene, scene)


def register_variant(scene: Scene, base: str, scale: float, name: str) -> None:
    """Record that body ``name`` is body ``base`` at ``scale``."""
    scene.store.setdefault(VARIANTS, {})[(base, float(scale))] = name
    scene.store.setdefault(BASE_OF, {})[name] = (base, float(scale))


def object_labels(objects: Sequence[Any], where: str, *, unique: bool = True) -> tuple[str, ...]:
    """One short label per object option: the name or path as written, or a dict's
    ``category``, ``name`` or file stem (what the params record); ``unique``: no label twice."""
    labels = []
    for i, item in enumerate(objects):
        if isinstance(item, str) and item:
            labels.append(item)
        elif isinstance(item, Mapping):
            label = (
                item.get("category") or item.get("name") or Path(str(item.get("source", ""))).stem
            )
            if not label:
                raise PresetError(f"{where}.objects[{i}]: a dict needs 'name' or 'source'")
            labels.append(str(label))
        elif getattr(item, "category", None):  # an ObjectSpec built in code
            labels.append(str(item.category))
        else:
            raise PresetError(
                f"{where}.objects[{i}]: expected a built-in object name, a file path, a dict of "
                f"object fields or an ObjectSpec, got {item!r}"
            )
    repeated = sorted({v for v in labels if labels.count(v) > 1})
    if repeated and unique:
        raise PresetError(
            f"{where}.objects: each object needs its own label, got {repeated} more than once "
            "(give dicts a distinct 'category')"
        )
    return tuple(labels)


def object_list(config: dict[str, Any], key: str, where: str) -> list[Any] | None:
    """The optional non-empty list ``config[key]`` of object options (names, paths, dicts)."""
    value = config.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise PresetError(
            f"{where}.{key}: expected a non-empty list of objects (built-in names such as mug, "
            f"file paths, or dicts of object fields), got {value!r}"
        )
    return list(value)
