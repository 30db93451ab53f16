"""Distributions over one number (or a choice), relative to a nominal value or absolute.

In a preset, a distribution is written as one of::

    0.5                                   # a constant
    [0.5, 1.5]                            # uniform
    {dist: uniform, low: 0.5, high: 1.5, mode: scale}
    {dist: log_uniform, low: 0.1, high: 10}
    {dist: normal, mean: 1.0, std: 0.1, low: 0.7, high: 1.3}   # clipped normal
    {dist: choice, values: [0, 1], p: [0.8, 0.2]}

``mode`` is ``absolute`` (default), ``scale`` (multiply the nominal value) or ``add``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from randomizers.errors import PresetError
from randomizers.spaces import ParamSpec

DISTRIBUTIONS = ("constant", "uniform", "log_uniform", "normal", "choice")
MODES = ("absolute", "scale", "add")
_KEYS = {
    "constant": {"dist", "value", "mode"},
    "uniform": {"dist", "low", "high", "mode"},
    "log_uniform": {"dist", "low", "high", "mode"},
    "normal": {"dist", "mean", "std", "low", "high", "mode"},
    "choice": {"dist", "values", "p", "mode"},
}


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise PresetError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Distribution:
    """A sampled number (or category) and how it combines with the nominal value."""

    dist: str
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    std: float = 0.0
    values: tuple[Any, ...] = ()
    p: tuple[float, ...] | None = None
    mode: str = "absolute"

    @classmethod
    def parse(
        cls,
        config: Any,
        where: str,
        *,
        min_value: float | None = None,
        max_value: float | None = None,
        modes: tuple[str, ...] = MODES,
        default_mode: str = "absolute",
    ) -> Distribution:
        """Build from preset syntax; ``min_value``/``max_value`` bound what may be sampled
        (numeric choices included); ``default_mode`` applies when the preset names none."""
        if isinstance(config, (int, float)) and not isinstance(config, bool):
            v = _number(config, where)
            d = cls("constant", low=v, high=v, mode=default_mode)
        elif isinstance(config, (list, tuple)):
            if len(config) != 2:
                raise PresetError(f"{where}: a range is [low, high], got {list(config)!r}")
            lo, hi = _number(config[0], where), _number(config[1], where)
            d = cls("uniform", low=lo, high=hi, mode=default_mode)
        elif isinstance(config, Mapping):
            d = cls._parse_mapping(config, where, default_mode)
        else:
            raise PresetError(
                f"{where}: expected a number, a [low, high] range or a mapping with 'dist' "
                f"(one of {', '.join(DISTRIBUTIONS)}), got {config!r}"
            )
        if d.mode not in modes:
            raise PresetError(
                f"{where}.mode: {d.mode!r} is not allowed here; allowed: {', '.join(modes)}"
            )
        if d.dist != "choice" and d.low > d.high:
            raise PresetError(f"{where}: low must be <= high, got low={d.low}, high={d.high}")
        if d.dist != "choice" or d.numeric:
            lo, hi = d.bounds
            if min_value is not None and lo < min_value:
                raise PresetError(f"{where}: values must be >= {min_value}, got low={lo}")
            if max_value is not None and hi > max_value:
                raise PresetError(f"{where}: values must be <= {max_value}, got high={hi}")
        return d

    @property
    def numeric(self) -> bool:
        """Whether every value it can yield is a number."""
        return self.dist != "choice" or all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in self.values
        )

    @property
    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value it can yield (numbers only)."""
        if self.dist == "choice":
            return float(min(self.values)), float(max(self.values))
        return self.low, self.high

    @classmethod
    def _parse_mapping(
        cls, config: Mapping[str, Any], where: str, default_mode: str
    ) -> Distribution:
        kind = config.get("dist")
        if kind not in DISTRIBUTIONS:
            raise PresetError(
                f"{where}.dist: unknown distribution {kind!r}; allowed: {', '.join(DISTRIBUTIONS)}"
            )
        unknown = sorted(set(config) - _KEYS[kind])
        if unknown:
            raise PresetError(
                f"{where}: unknown key(s) {unknown} for dist {kind!r}; allowed: {sorted(_KEYS[kind])}"
            )
        mode = config.get("mode", default_mode)
        if mode not in MODES:
            raise PresetError(f"{where}.mode: unknown mode {mode!r}; allowed: {', '.join(MODES)}")
        try:
            if kind == "constant":
                v = _number(config["value"], f"{where}.value")
                return cls("constant", low=v, high=v, mode=mode)
            if kind in ("uniform", "log_uniform"):
                lo, hi = (
                    _number(config["low"], f"{where}.low"),
                    _number(config["high"], f"{where}.high"),
                )
                if kind == "log_uniform" and lo <= 0:
                    raise PresetError(f"{where}: log_uniform needs low > 0, got {lo}")
                return cls(kind, low=lo, high=hi, mode=mode)
            if kind == "normal":
                mean, std = (
                    _number(config["mean"], f"{where}.mean"),
                    _number(config["std"], f"{where}.std"),
                )
                if std < 0:
                    raise PresetError(f"{where}.std: must be >= 0, got {std}")
                lo = _number(config.get("low", mean - 3 * std), f"{where}.low")
                hi = _number(config.get("high", mean + 3 * std), f"{where}.high")
                return cls("normal", low=lo, high=hi, mean=mean, std=std, mode=mode)
            values = tuple(config["values"])
        except KeyError as exc:
            raise PresetError(f"{where}: dist {kind!r} needs key {exc.args[0]!r}") from None
        if not values:
            raise PresetError(f"{where}.values: a choice needs at least one value")
        p = config.get("p")
        if p is not None:
            p = tuple(_number(x, f"{where}.p") for x in p)
            if len(p) != len(values) or any(x < 0 or x > 1 for x in p) or abs(sum(p) - 1) > 1e-6:
                raise PresetError(
                    f"{where}.p: expected {len(values)} probabilities in [0, 1] summing to 1, got {list(p)}"
                )
        return cls("choice", values=values, p=p, mode=mode)

    # -- sampling ------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Any:
        """One draw (before combining with a nominal value)."""
        if self.dist == "constant":
            return self.low
        if self.dist == "uniform":
            return float(rng.uniform(self.low, self.high))
        if self.dist == "log_uniform":
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        if self.dist == "normal":
            return float(np.clip(rng.normal(self.mean, self.std), self.low, self.high))
        idx = int(rng.choice(len(self.values), p=self.p))
        v = self.values[idx]
        return v.item() if isinstance(v, np.generic) else v

    def sample_n(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` draws at once (numbers only): one generator call instead of ``n``."""
        if self.dist == "constant":
            return np.full(n, self.low)
        if self.dist == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.dist == "log_uniform":
            return np.exp(rng.uniform(np.log(self.low), np.log(self.high), n))
        if self.dist == "normal":
            return np.clip(rng.normal(self.mean, self.std, n), self.low, self.high)
        return np.asarray(self.values, dtype=np.float64)[rng.choice(len(self.values), n, p=self.p)]

    def combine(self, value: float, nominal: float) -> float:
        """The absolute value a sample stands for, given the nominal value."""
        if self.mode == "scale":
            return nominal * value
        if self.mode == "add":
            return nominal + value
        return value

    def spec(self, name: str, *, integer: bool = False) -> ParamSpec:
        """The parameter-space entry of the sampled value."""
        if self.dist == "choice":
            if self.numeric:
                lo, hi = self.bounds
                return ParamSpec(name, "integer" if integer else "continuous", lo, hi)
            return ParamSpec(name, "categorical", choices=self.values)
        return ParamSpec(name, "integer" if integer else "continuous", self.low, self.high)

    @property
    def is_constant(self) -> bool:
        """Whether it always yields the same value."""
        return self.dist == "constant" or (self.dist != "choice" and self.low == self.high)
