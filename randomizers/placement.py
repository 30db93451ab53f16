"""Free placement on the table: footprints in the table plane and overlap tests with a margin.

Tasks place their objects, and the object-pose and distractor randomizers theirs, clear of
the scene's fixtures (bodies of role ``fixtures``) and of each other. A footprint is an
axis-aligned rectangle ``(x_lo, y_lo, x_hi, y_hi)`` in metres. A randomizer resolves an
overlap in ``apply`` by drawing again from :func:`placement_rng`, a generator seeded by a
hash of its params, so params alone still replay the episode exactly; a scene without
fixtures never draws from it and places everything exactly where the params say.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from randomizers.scene import Scene

Rect = tuple[float, float, float, float]  # x_lo, y_lo, x_hi, y_hi
MARGIN = 0.01  # m of clearance between footprints
MAX_TRIES = 100  # draws per body before giving up on a free spot


def body_rect(client: Any, body: int) -> Rect:
    """The footprint of a body's AABB (every link) in its current pose."""
    boxes = [client.getAABB(body, link) for link in range(-1, client.getNumJoints(body))]
    return (min(b[0][0] for b in boxes), min(b[0][1] for b in boxes),
            max(b[1][0] for b in boxes), max(b[1][1] for b in boxes))  # fmt: skip


def disc_rect(x: float, y: float, radius: float) -> Rect:
    """The square around a disc: a footprint that holds whatever the body's yaw."""
    return (x - radius, y - radius, x + radius, y + radius)


def radius_of(rect: Rect) -> float:
    """Radius of the disc around a footprint's centre that holds it at any yaw."""
    return 0.5 * math.hypot(rect[2] - rect[0], rect[3] - rect[1])


def overlaps(a: Rect, b: Rect, margin: float = MARGIN) -> bool:
    """Whether two footprints come closer than ``margin``."""
    return (a[0] < b[2] + margin and b[0] < a[2] + margin
            and a[1] < b[3] + margin and b[1] < a[3] + margin)  # fmt: skip


def blocked(rect: Rect, others: Iterable[Rect], margin: float = MARGIN) -> bool:
    """Whether ``rect`` overlaps any of ``others``."""
    return any(overlaps(rect, o, margin) for o in others)


def fixture_rects(scene: Scene) -> list[Rect]:
    """Footprints of the scene's fixtures (empty for a scene without any)."""
    names = scene.roles.get("fixtures") or []
    return [body_rect(scene.client, scene.sim.body(n)) for n in names]


def placement_rng(name: str, params: Mapping[str, Any]) -> np.random.Generator:
    """A generator that is a pure function of a randomizer's params: redraws made in
    ``apply`` repeat exactly when the params are replayed."""
    text = json.dumps({"name": name, "params": _plain(params)}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


def _plain(value: Any) -> Any:
    """Params with every number as a float (sampled ints and replayed floats hash alike)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    return float(value)


def count_overlaps(rects: Sequence[Rect], fixed: Sequence[Rect] = (), margin: float = 0.0) -> int:
    """Pairs of overlapping footprints among ``rects``, plus each overlap with ``fixed``."""
    n = sum(blocked(r, fixed, margin) for r in rects)
    return n + sum(overlaps(a, b, margin) for i, a in enumerate(rects) for b in rects[i + 1 :])


__all__ = ["MARGIN", "MAX_TRIES", "Rect", "blocked", "body_rect", "count_overlaps", "disc_rect",
           "fixture_rects", "overlaps", "placement_rng", "radius_of"]  # fmt: skip
