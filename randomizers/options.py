"""Small helpers that read preset options with precise error messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from randomizers.distributions import Distribution
from randomizers.errors import PresetError


def dist(
    config: dict[str, Any],
    key: str,
    where: str,
    default: Any = None,
    **bounds: Any,
) -> Distribution | None:
    """Parse ``config[key]`` as a :class:`Distribution` (``None`` when absent and no default)."""
    value = config.get(key, default)
    if value is None:
        return None
    return Distribution.parse(value, f"{where}.{key}", **bounds)


def dist_vector(
    config: dict[str, Any], key: str, where: str, n: int, default: Any = 0.0, **bounds: Any
) -> list[Distribution]:
    """``n`` distributions from a list of ``n`` entries, or one entry used for all."""
    value = config.get(key, default)
    if (
        isinstance(value, (list, tuple))
        and len(value) == n
        and any(isinstance(v, (list, tuple, dict)) for v in value)
    ):
        return [Distribution.parse(v, f"{where}.{key}[{i}]", **bounds) for i, v in enumerate(value)]
    return [Distribution.parse(value, f"{where}.{key}", **bounds)] * n


def probability(config: dict[str, Any], key: str, where: str, default: float) -> float:
    """A number in [0, 1]."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise PresetError(f"{where}.{key}: expected a probability in [0, 1], got {value!r}")
    return float(value)


def choice_list(
    config: dict[str, Any], key: str, where: str, allowed: Sequence[str], default: Sequence[str]
) -> tuple[str, ...]:
    """A non-empty list of names, each from ``allowed``."""
    value = config.get(key, list(default))
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise PresetError(
            f"{where}.{key}: expected a non-empty list from {list(allowed)}, got {value!r}"
        )
    for v in value:
        if v not in allowed:
            raise PresetError(f"{where}.{key}: unknown value {v!r}; allowed: {', '.join(allowed)}")
    return tuple(value)


def integer(config: dict[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
    """An int in [low, high]."""
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise PresetError(f"{where}.{key}: expected an int in [{low}, {high}], got {value!r}")
    return value


__all__ = ["choice_list", "dist", "dist_vector", "integer", "probability"]
