"""Label categories and their ids: the five fixed ones first (their ids never change), then
every other category an env can show, sorted; exports write the list in their manifest."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

BASE_CATEGORIES: tuple[str, ...] = ("robot", "cube", "goal_region", "target", "distractor")


def category_list(categories: Iterable[str]) -> list[str]:
    """:data:`BASE_CATEGORIES`, then the others of ``categories`` sorted (ids = index + 1)."""
    extra = sorted(set(categories) - set(BASE_CATEGORIES))
    return [*BASE_CATEGORIES, *extra]


def category_ids(categories: Sequence[str], seen: Iterable[str] = ()) -> dict[str, int]:
    """Name -> id (1-based) of ``categories`` in order; a category in ``seen`` that the list
    lacks (labels of an older export) gets the next ids, sorted, instead of a ``KeyError``."""
    ids = {name: i + 1 for i, name in enumerate(categories)}
    for name in sorted(set(seen) - set(ids)):
        ids[name] = len(ids) + 1
    return ids


def env_categories(env: Any) -> list[str]:
    """Every category an env's labels can hold: the fixed ones, the task's objects and every
    object the scene holds for its randomizers (target choice, scaled copies)."""
    scene = env.unwrapped.scene
    names = set(env.unwrapped.task.objects.values())
    names |= {ob.category for ob in getattr(scene, "objects", {}).values() if not ob.static}
    return category_list(names)


def declared_categories(
    env_id: str, preset: Any = None, env_kwargs: Mapping[str, Any] | None = None
) -> list[str]:
    """The categories of env ``env_id`` (built with ``env_kwargs``) with randomization
    ``preset``: the task's objects (the env is built once, without randomization) and every
    object a ``target_object`` randomizer of the preset may swap in (resolved, not loaded)."""
    import gymnasium as gym

    from envs.objects import resolve_object
    from randomizers.presets import build_randomizer

    env = gym.make(env_id, obs_mode="state", image_size=8, **dict(env_kwargs or {}))
    try:
        names = set(env_categories(env))
    finally:
        env.close()
    stack = [build_randomizer(preset)]
    while stack:
        r = stack.pop()
        stack += list(getattr(r, "randomizers", None) or [])
        if getattr(r, "kind", None) == "target_object":
            names |= {resolve_object(item).category for item in r.objects}  # type: ignore[union-attr]
    return category_list(names)


def manifest_categories(root: Path, records: Iterable[Mapping[str, Any]] = ()) -> dict[str, int]:
    """Category ids of an export: the list in its manifest (or the fixed ones for an export
    without), extended by any other category its ``records`` hold."""
    import json

    categories: Sequence[str] = BASE_CATEGORIES
    try:
        manifest = json.loads((Path(root) / "manifest.json").read_text())
        if isinstance(manifest, dict) and isinstance(manifest.get("categories"), list):
            categories = [str(c) for c in manifest["categories"]]
    except (OSError, ValueError):
        pass
    seen = {o["category"] for r in records for o in _objects(r)}
    return category_ids(categories, seen)


def _objects(record: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    yield from record.get("objects", ())
    for view in (record.get("views") or {}).values():
        yield from view.get("objects", ())
