"""Distributions over one number (or a choice), relative to a nominal value or absolute.

In a preset, a distribution is written as one of::

    0.5                                   # a constant
    [0.5, 1.5]                            # uniform
    {dist: uniform, low: 0.5, high: 1.5, mode: scale}
    {dist: log_uniform, low: 0.1, high: 10}
    {dist: normal, mean: 1.0, std: 0.1, low: 0.7, high: 1.3}   # clipped normal
    {dist: choice, values: [0, 1], p: [0.8, 0.2]}

``mode`` is ``absolute`` (default), ``scale`` (multiply the nominal value) or ``add``.

Every option that takes a distribution declares :class:`Limits` (per mode where the mode
changes what a number means: kilograms or a multiplier of the nominal mass), checked when
the preset loads: every value a distribution can yield (its range, a clipped normal's
``[low, high]``, every choice) must lie inside them, be a finite number (choices included:
no strings, booleans, ``null`` or lists) and, for integer options, be a whole number.
"""

from __future__ import annotations

import math
import numbers
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
    """A finite real number (ints, floats, NumPy scalars; never a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = ""
        if isinstance(value, str) and _is_float_text(value):
            hint = " (YAML reads a number like 1e3 as text: write 1.0e+3)"
        raise PresetError(f"{where}: expected a finite number, got {_show(value)}{hint}")
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise PresetError(f"{where}: expected a finite number, got {_show(value)}")
    return out


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)``, shortened to ``limit`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= limit else f"{text[: limit - 5]}...{text[-2:]}"


def _is_float_text(text: str) -> bool:
    """Whether ``text`` spells a number (YAML 1.1 reads ``1e3`` as a string)."""
    try:
        float(text)
    except ValueError:
        return False
    return any(ch.isdigit() for ch in text)


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


@dataclass(frozen=True)
class Limits:
    """The sane range of what one option may sample, checked when a preset loads.

    Args:
        low, high: bounds (``None``: unbounded on that side).
        low_open: ``low`` itself is not allowed (a mass must be > 0).
        integer: only whole numbers (counts, env steps, sizes).
        unit: what a number means, shown in messages ("kg", "x nominal", "env steps").
        why_low: a short reason, shown when a value is refused for being at or below ``low``.
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    integer: bool = False
    unit: str = ""
    why_low: str = ""

    def describe(self) -> str:
        """E.g. ``numbers in (0, 100] (kg)`` or ``integers in [0, 20] (env steps)``."""
        kind = "integers" if self.integer else "numbers"
        if self.low is None and self.high is None:
            text = f"finite {kind}"
        elif self.high is None:
            text = f"{kind} {'>' if self.low_open else '>='} {_fmt(self.low)}"  # type: ignore[arg-type]
        elif self.low is None:
            text = f"{kind} <= {_fmt(self.high)}"
        else:
            text = f"{kind} in {'(' if self.low_open else '['}{_fmt(self.low)}, {_fmt(self.high)}]"
        return f"{text} ({self.unit})" if self.unit else text

    def admits(self, x: float) -> bool:
        """Whether ``x`` lies inside the limits (and is whole, for integer limits)."""
        if self.integer and not float(x).is_integer():
            return False
        if self.low is not None and (x < self.low or (self.low_open and x == self.low)):
            return False
        return self.high is None or x <= self.high


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
        limits: Limits | Mapping[str, Limits] | None = None,
    ) -> Distribution:
        """Build from preset syntax and check it against the option's limits.

        Args:
            min_value, max_value: inclusive bounds of what may be sampled (shorthand for
                ``limits=Limits(min_value, max_value)``).
            modes: the modes allowed for this option.
            default_mode: the mode when the preset names none.
            limits: the option's :class:`Limits`, or one per mode (its keys are then the
                allowed modes, and the chosen mode's limits apply).

        Every option that takes a distribution is numeric: a ``choice`` holds finite numbers
        only (categorical options are lists checked against their allowed names instead).
        """
        if isinstance(limits, Mapping):
            modes = tuple(limits)
        if isinstance(config, bool) or not isinstance(config, (numbers.Real, list, tuple, Mapping)):
            raise PresetError(
                f"{where}: expected a number, a [low, high] range or a mapping with 'dist' "
                f"(one of {', '.join(DISTRIBUTIONS)}), got {config!r}"
                + (
                    " (YAML reads a number like 1e3 as text: write 1.0e+3)"
                    if isinstance(config, str) and _is_float_text(config)
                    else ""
                )
            )
        if isinstance(config, numbers.Real):
            v = _number(config, where)
            d = cls("constant", low=v, high=v, mode=default_mode)
        elif isinstance(config, (list, tuple)):
            if len(config) != 2:
                raise PresetError(
                    f"{where}: a range is [low, high] (two numbers), got {list(config)!r}"
                )
            lo, hi = _number(config[0], f"{where}[0]"), _number(config[1], f"{where}[1]")
            d = cls("uniform", low=lo, high=hi, mode=default_mode)
        else:
            d = cls._parse_mapping(config, where, default_mode)
        if d.mode not in modes:
            raise PresetError(
                f"{where}.mode: {d.mode!r} is not allowed here; allowed: {', '.join(modes)}"
            )
        if d.dist != "choice" and d.low > d.high:
            raise PresetError(f"{where}: low must be <= high, got low={d.low}, high={d.high}")
        if isinstance(limits, Mapping):
            lim: Limits | None = limits[d.mode]
        elif limits is not None:
            lim = limits
        elif min_value is not None or max_value is not None:
            lim = Limits(min_value, max_value)
        else:
            lim = None
        if lim is not None:
            d.check(lim, where)
        return d

    def check(self, limits: Limits, where: str) -> None:
        """Raise :class:`PresetError` unless every value this can yield is within ``limits``."""
        if self.dist == "choice":
            named = [(f"values[{i}]", float(v)) for i, v in enumerate(self.values)]
        elif self.dist == "constant":
            named = [("value", self.low)]
        else:
            named = [("low", self.low), ("high", self.high)]
        mode = f", mode {self.mode}" if self.mode != "absolute" else ""
        note = ""
        if self.dist == "normal":
            note = " (a normal is clipped to [low, high]: by default mean +- 3 std)"
        for label, x in named:
            if limits.admits(x):
                continue
            whole = " (not a whole number)" if limits.integer and not x.is_integer() else ""
            low_side = limits.low is not None and x <= limits.low
            why = f"; {limits.why_low}" if limits.why_low and low_side else ""
            raise PresetError(
                f"{where}: values must be {limits.describe()}{mode}; got {label}={_fmt(x)}"
                f"{whole}{note}{why}"
            )

    @property
    def numeric(self) -> bool:
        """Whether every value it can yield is a number."""
        return self.dist != "choice" or all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.values
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
        if "dist" not in config:
            raise PresetError(
                f"{where}: a distribution mapping needs 'dist' (one of {', '.join(DISTRIBUTIONS)}), "
                f"got keys {sorted(map(str, config))}"
            )
        kind = config["dist"]
        if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
            raise PresetError(
                f"{where}.dist: unknown distribution {kind!r}; allowed: {', '.join(DISTRIBUTIONS)}"
            )
        unknown = sorted(map(str, set(config) - _KEYS[kind]))
        if unknown:
            raise PresetError(
                f"{where}: unknown key(s) {unknown} for dist {kind!r}; allowed: {sorted(_KEYS[kind])}"
            )
        mode = config.get("mode", default_mode)
        if not isinstance(mode, str) or mode not in MODES:
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
                if lo <= hi and not lo <= mean <= hi:
                    raise PresetError(
                        f"{where}.mean: must lie in [low, high] = [{_fmt(lo)}, {_fmt(hi)}] (the "
                        f"normal is clipped there), got {_fmt(mean)}"
                    )
                return cls("normal", low=lo, high=hi, mean=mean, std=std, mode=mode)
            raw = config["values"]
        except KeyError as exc:
            raise PresetError(f"{where}: dist {kind!r} needs key {exc.args[0]!r}") from None
        if not isinstance(raw, (list, tuple)):
            raise PresetError(f"{where}.values: expected a list of values, got {raw!r}")
        if not raw:
            raise PresetError(f"{where}.values: a choice needs at least one value")
        # finite numbers only; ints stay ints (a sampled count or latency is an int)
        values: tuple[Any, ...] = tuple(
            int(r) if isinstance(r, numbers.Integral) and not isinstance(r, bool) else v
            for r, v in ((r, _number(r, f"{where}.values[{i}]")) for i, r in enumerate(raw))
        )
        p = config.get("p")
        if p is not None:
            if not isinstance(p, (list, tuple)):
                raise PresetError(
                    f"{where}.p: expected a list of {len(values)} probabilities, got {p!r}"
                )
            p = tuple(_number(x, f"{where}.p[{i}]") for i, x in enumerate(p))
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
