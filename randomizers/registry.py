"""Which randomizer kinds a preset may name: the built-in ones and the ones users register.

A user kind becomes usable in YAML presets in one of two ways:

- in code: ``randomizers.register_randomizer("wind", WindRandomizer)``;
- in a package: an entry point in the ``domrand.randomizers`` group of its
  ``pyproject.toml``, loaded the first time a preset names a kind that is not known yet::

      [project.entry-points."domrand.randomizers"]
      wind = "my_package.wind:WindRandomizer"

Presets apply the built-in kinds first, in :data:`KINDS` order, then the registered kinds in
the order they were registered.
"""

from __future__ import annotations

import re
from importlib.metadata import entry_points

from randomizers.base import Randomizer
from randomizers.camera import CameraPose
from randomizers.distractors import Distractors
from randomizers.errors import PresetError
from randomizers.image_noise import ImageNoise
from randomizers.lighting import Lighting
from randomizers.object_pose import ObjectPose
from randomizers.object_scale import ObjectScale
from randomizers.physics import Physics
from randomizers.table_height import TableHeight
from randomizers.target_object import TargetObject
from randomizers.texture import Texture

ENTRY_POINT_GROUP = "domrand.randomizers"
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]*")

# The built-in kinds, applied in this order whatever the order in the file: objects first
# (which target, its size, then poses), so that texture slots see every body; image noise last.
# The table height after the placements: it moves the table with whatever stands on it.
KINDS: dict[str, type[Randomizer]] = {
    "target_object": TargetObject,
    "object_scale": ObjectScale,
    "object_pose": ObjectPose,
    "distractors": Distractors,
    "table_height": TableHeight,
    "physics": Physics,
    "texture": Texture,
    "lighting": Lighting,
    "camera": CameraPose,
    "image_noise": ImageNoise,
}


class _Registered:
    """Kinds registered by users (a process-wide table, like Gymnasium's env registry)."""

    kinds: dict[str, type[Randomizer]] = {}
    entry_points_loaded = False
    failed: dict[str, str] = {}  # entry point name -> why it could not be loaded


def register_randomizer(kind: str, cls: type[Randomizer]) -> None:
    """Make ``cls`` the randomizer of preset key ``kind`` (``cls.kind`` is set to ``kind``
    when the class does not define it). Registering the same class again does nothing."""
    if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
        raise ValueError(
            f"a randomizer kind is lower-case letters, digits and '_' starting with a letter "
            f"(a YAML key such as 'wind'), got {kind!r}"
        )
    if not (isinstance(cls, type) and issubclass(cls, Randomizer)):
        raise TypeError(
            f"register_randomizer({kind!r}, ...) expects a subclass of randomizers.Randomizer, "
            f"got {cls!r}"
        )
    if kind in KINDS or kind in ("compose", "group"):
        raise ValueError(f"{kind!r} is a built-in randomizer kind; register under another name")
    known = _Registered.kinds.get(kind)
    if known is cls:
        return
    if known is not None:
        raise ValueError(
            f"randomizer kind {kind!r} is already registered as {_qualname(known)}; "
            f"unregister_randomizer({kind!r}) first to replace it with {_qualname(cls)}"
        )
    own_kind = cls.__dict__.get("kind")  # not an inherited one: a subclass may rename
    if own_kind is None:
        cls.kind = kind
    elif own_kind != kind:
        raise ValueError(
            f"{_qualname(cls)}.kind is {own_kind!r} but it is registered as {kind!r}; "
            "make them equal (or leave kind out of the class)"
        )
    _Registered.kinds[kind] = cls


def unregister_randomizer(kind: str) -> None:
    """Forget the user kind ``kind`` (a ``KeyError`` names the registered kinds otherwise)."""
    if kind not in _Registered.kinds:
        raise KeyError(f"{kind!r} is not a registered kind; registered: {list(_Registered.kinds)}")
    del _Registered.kinds[kind]


def registered_kinds() -> dict[str, type[Randomizer]]:
    """The kinds registered so far (in code, and entry points already loaded)."""
    return dict(_Registered.kinds)


def known_kinds(*, load: bool = True) -> dict[str, type[Randomizer]]:
    """Every kind a preset may name, in application order: built-in, then registered
    (``load``: load the ``domrand.randomizers`` entry points first, once per process)."""
    if load:
        load_entry_points()
    return {**KINDS, **_Registered.kinds}


def lookup(kind: str, where: str = "preset") -> type[Randomizer]:
    """The class of ``kind``; a :class:`PresetError` lists the known kinds when none is."""
    cls = KINDS.get(kind) or _Registered.kinds.get(kind) or known_kinds().get(kind)
    if cls is None:
        raise unknown_kinds([kind], where)
    return cls


def unknown_kinds(kinds: list[str], where: str) -> PresetError:
    """The error for preset keys that name no kind: why a plugin failed to load, or the
    known kinds and how to register one."""
    for kind in kinds:
        if kind in _Registered.failed:
            return PresetError(f"{where}: {_Registered.failed[kind]}")
    return PresetError(
        f"{where}: unknown randomizer kind(s) {kinds}; allowed: "
        f"{', '.join(known_kinds(load=False))}; register your own with "
        f"randomizers.register_randomizer(kind, cls) or an entry point in the "
        f"{ENTRY_POINT_GROUP!r} group"
    )


def load_entry_points() -> None:
    """Register every kind of the ``domrand.randomizers`` entry-point group (once)."""
    if _Registered.entry_points_loaded:
        return
    _Registered.entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _Registered.kinds or ep.name in KINDS:
            continue  # registered in code first (or shadowing a built-in): the code wins
        where = f"entry point {ep.name} = {ep.value!r} of group {ENTRY_POINT_GROUP!r}"
        dist = getattr(ep, "dist", None)
        if dist is not None:
            where += f" (package {dist.name})"
        try:
            register_randomizer(ep.name, ep.load())
        except Exception as exc:  # a broken plugin must not hide the others
            _Registered.failed[ep.name] = f"cannot load {where}: {type(exc).__name__}: {exc}"


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "known_kinds",
    "load_entry_points",
    "lookup",
    "register_randomizer",
    "registered_kinds",
    "unknown_kinds",
    "unregister_randomizer",
]
