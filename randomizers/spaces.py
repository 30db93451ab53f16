"""Parameter spaces: what each randomizer may sample, used to validate, encode and document."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from randomizers.errors import PresetError

KINDS = ("continuous", "integer", "categorical")


@dataclass(frozen=True)
class ParamSpec:
    """One named parameter: a continuous or integer range, or a set of categories.

    ``size`` > 1 makes it a fixed-length vector of numbers (a colour, a direction).
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    size: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"ParamSpec.kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "categorical":
            if not self.choices:
                raise ValueError(f"categorical ParamSpec {self.name!r} needs choices")
        elif self.low is None or self.high is None or not self.low <= self.high:
            raise ValueError(
                f"ParamSpec {self.name!r} needs low <= high, got [{self.low}, {self.high}]"
            )

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a numeric spec."""
        if self.low is None or self.high is None:
            raise ValueError(f"categorical ParamSpec {self.name!r} has no bounds")
        return float(self.low), float(self.high)

    def describe(self) -> str:
        """The allowed values, for error messages and docs."""
        if self.kind == "categorical":
            return f"one of {list(self.choices or ())}"
        shape = f"{self.size} " if self.size > 1 else ""
        kind = "integers" if self.kind == "integer" else "numbers"
        return f"{shape}{kind} in [{self.low}, {self.high}]"

    def validate(self, value: Any, where: str) -> Any:
        """Check one value; returns it as plain JSON data (lists, floats, ints, str)."""
        if self.kind == "categorical":
            if value not in (self.choices or ()):
                raise PresetError(f"{where}: {value!r} is not allowed; expected {self.describe()}")
            return value
        values = value if self.size > 1 else [value]
        if self.size > 1 and (
            not isinstance(value, Sequence) or isinstance(value, str) or len(value) != self.size
        ):
            raise PresetError(f"{where}: expected {self.describe()}, got {value!r}")
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise PresetError(f"{where}: expected {self.describe()}, got {value!r}")
            if self.kind == "integer" and float(v) != int(v):
                raise PresetError(f"{where}: expected {self.describe()}, got {value!r}")
            fv = float(v)
            lo, hi = float(self.low), float(self.high)  # type: ignore[arg-type]
            tol = 1e-9 * max(1.0, abs(lo), abs(hi))
            if not math.isfinite(fv) or fv < lo - tol or fv > hi + tol:
                raise PresetError(
                    f"{where}: {value!r} is outside the allowed range; expected {self.describe()}"
                )
            out.append(int(v) if self.kind == "integer" else fv)
        return out if self.size > 1 else out[0]


def check_keys(params: Any, names: Sequence[str], where: str, what: str = "param") -> None:
    """``params`` must be a dict with exactly the keys ``names`` (``what`` names them)."""
    if not isinstance(params, Mapping):
        raise PresetError(f"{where}: expected a dict of params, got {type(params).__name__}")
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise PresetError(f"{where}: unknown {what}(s) {unknown}; allowed: {list(names)}")
    missing = [n for n in names if n not in params]
    if missing:
        raise PresetError(f"{where}: missing {what}(s) {missing}")


def validate_params(specs: Sequence[ParamSpec], params: Any, where: str) -> dict[str, Any]:
    """Check a flat params dict against its specs: same keys, values in range."""
    check_keys(params, [s.name for s in specs], where)
    return {s.name: s.validate(params[s.name], f"{where}.{s.name}") for s in specs}


def encoded_size(specs: Sequence[ParamSpec]) -> int:
    """Length of the flat vector that :func:`encode` produces."""
    return sum(s.size if s.kind != "categorical" else 1 for s in specs)


def encode(specs: Sequence[ParamSpec], params: Mapping[str, Any]) -> np.ndarray:
    """Params -> flat float vector; a categorical value becomes the index of its choice."""
    out: list[float] = []
    for s in specs:
        v = params[s.name]
        if s.kind == "categorical":
            out.append(float(list(s.choices or ()).index(v)))
        elif s.size > 1:
            out.extend(float(x) for x in v)
        else:
            out.append(float(v))
    return np.asarray(out, dtype=np.float64)


def decode(specs: Sequence[ParamSpec], vector: np.ndarray) -> dict[str, Any]:
    """Inverse of :func:`encode`: clips into bounds, rounds integers and category indices."""
    vec = np.asarray(vector, dtype=np.float64)
    if vec.shape != (encoded_size(specs),):
        raise ValueError(
            f"expected a vector of length {encoded_size(specs)}, got shape {vec.shape}"
        )
    params: dict[str, Any] = {}
    i = 0
    for s in specs:
        if s.kind == "categorical":
            choices = list(s.choices or ())
            params[s.name] = choices[int(np.clip(round(vec[i]), 0, len(choices) - 1))]
            i += 1
            continue
        chunk = np.clip(vec[i : i + s.size], s.low, s.high)
        i += s.size
        if s.kind == "integer":
            vals: list[Any] = [int(round(x)) for x in chunk]
        else:
            vals = [float(x) for x in chunk]
        params[s.name] = vals if s.size > 1 else vals[0]
    return params
