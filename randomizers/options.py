"""Small helpers that read preset options with precise error messages."""

from __future__ import annotations

import numbers
import re
from collections.abc import Sequence
from typing import Any

from randomizers.distributions import Distribution
from randomizers.errors import PresetError

NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def dist(
    config: dict[str, Any],
    key: str,
    where: str,
    default: Any = None,
    **bounds: Any,
) -> Distribution | None:
    """Parse ``config[key]`` as a :class:`Distribution` (``None`` when absent and no default).

    ``bounds`` go to :meth:`Distribution.parse` (``limits``, ``modes``, ...)."""
    value = config.get(key, default)
    if value is None:
        if key in config:
            raise PresetError(
                f"{where}.{key}: expected a number, a [low, high] range or a distribution "
                "mapping, got null (leave the key out for the default)"
            )
        return None
    return Distribution.parse(value, f"{where}.{key}", **bounds)


def dist_vector(
    config: dict[str, Any], key: str, where: str, n: int, default: Any = 0.0, **bounds: Any
) -> list[Distribution]:
    """``n`` distributions from a list of ``n`` entries, or one entry used for all."""
    value = config.get(key, default)
    if isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple, dict)) for v in value):
        if len(value) != n:
            raise PresetError(
                f"{where}.{key}: expected one distribution for all {n} axes or a list of {n} "
                f"(one per axis), got a list of {len(value)}: {list(value)!r}"
            )
        return [Distribution.parse(v, f"{where}.{key}[{i}]", **bounds) for i, v in enumerate(value)]
    if isinstance(value, (list, tuple)) and len(value) == n and n != 2:
        raise PresetError(
            f"{where}.{key}: {list(value)!r} is ambiguous; write [low, high] for one range on "
            f"all {n} axes, or {n} entries such as [[a, a], [b, b], [c, c]] for one per axis"
        )
    return [Distribution.parse(value, f"{where}.{key}", **bounds)] * n


def probability(config: dict[str, Any], key: str, where: str, default: float) -> float:
    """A number in [0, 1]."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
        raise PresetError(f"{where}.{key}: expected a probability in [0, 1], got {value!r}")
    return float(value)


def choice_list(
    config: dict[str, Any],
    key: str,
    where: str,
    allowed: Sequence[str],
    default: Sequence[str],
    *,
    unique: bool = False,
) -> tuple[str, ...]:
    """A non-empty list of names, each from ``allowed`` (``unique``: no name twice; without
    it a repeat weights a name, as in ``sources: [flat, flat, checker]``)."""
    value = config.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise PresetError(
            f"{where}.{key}: expected a non-empty list from {list(allowed)}, got {value!r}"
        )
    for v in value:
        if not isinstance(v, str) or v not in allowed:
            raise PresetError(f"{where}.{key}: unknown value {v!r}; allowed: {', '.join(allowed)}")
    if unique:
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            raise PresetError(
                f"{where}.{key}: each value may appear once, got {repeated} more than once"
            )
    return tuple(value)


def integer(config: dict[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    """An int in [low, high] (a whole float such as 3.0 is refused too: write 3)."""
    value = config.get(key, default)
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or not low <= int(value) <= high
    ):
        raise PresetError(f"{where}.{key}: expected an int in [{low}, {high}], got {value!r}")
    return int(value)


def name(config: dict[str, Any], where: str) -> str | None:
    """The optional ``name`` of a randomizer: its key in the params, so plain text without
    the ``/`` that joins flat parameter names."""
    value = config.get("name")
    if value is None:
        return None
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise PresetError(
            f"{where}.name: expected a name of letters, digits, '_' or '-' starting with a "
            f"letter, got {value!r}"
        )
    return value


__all__ = ["choice_list", "dist", "dist_vector", "integer", "name", "probability"]
