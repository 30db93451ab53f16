"""Automatic domain randomization (OpenAI et al. 2019, arXiv:1910.07113).

Each controlled parameter has a current range ``[low, high]`` inside its declared limits,
starting at a point (or a given range). With probability ``boundary_prob`` an episode
pins one parameter to one of its bounds; the performance of that episode goes into the
buffer of that bound. When a buffer holds ``buffer_size`` results, its mean decides:
at or above ``upper_threshold`` the bound moves outward by ``step``, at or below
``lower_threshold`` it moves inward. Every other parameter is sampled uniformly from its
current range; parameters ADR does not control keep their preset distribution.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from randomizers.compose import Compose
from randomizers.errors import PresetError


@dataclass
class ADRParam:
    """The state of one controlled parameter."""

    name: str
    limit_low: float
    limit_high: float
    low: float
    high: float
    step: float
    buffers: dict[str, list[float]] = field(default_factory=lambda: {"low": [], "high": []})

    @property
    def width(self) -> float:
        """Current range width."""
        return self.high - self.low


@dataclass(frozen=True)
class Boundary:
    """Which bound an episode was pinned to (``None`` for an ordinary episode)."""

    name: str
    side: str  # "low" or "high"


class ADR:
    """Grows and shrinks parameter ranges from task performance.

    Args:
        randomizer: the :class:`Compose` whose params ADR drives.
        names: flat names (``"physics/mass"``) of scalar continuous params to control;
            default: all of them.
        initial: starting value (or ``[low, high]``) per name; default: the middle of the
            declared limits.
        step: bound move, as a fraction of each parameter's limit range.
        buffer_size, lower_threshold, upper_threshold, boundary_prob: as in the paper.
    """

    def __init__(
        self,
        randomizer: Compose,
        names: Sequence[str] | None = None,
        *,
        initial: dict[str, float | Sequence[float]] | None = None,
        step: float = 0.05,
        buffer_size: int = 10,
        lower_threshold: float = 0.2,
        upper_threshold: float = 0.8,
        boundary_prob: float = 0.5,
    ) -> None:
        if not 0 < step <= 1:
            raise ValueError(f"step must be in (0, 1], got {step}")
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be >= 1, got {buffer_size}")
        if not lower_threshold < upper_threshold:
            raise ValueError(
                f"need lower_threshold < upper_threshold, got {lower_threshold}, {upper_threshold}"
            )
        if not 0 <= boundary_prob <= 1:
            raise ValueError(f"boundary_prob must be in [0, 1], got {boundary_prob}")
        self.randomizer = randomizer
        scalar = {s.name: s for s in randomizer.space() if s.kind == "continuous" and s.size == 1}
        names = list(names) if names is not None else list(scalar)
        unknown = [n for n in names if n not in scalar]
        if unknown:
            raise PresetError(
                f"ADR can only control scalar continuous params; unknown or unsuitable: {unknown}; "
                f"candidates: {sorted(scalar)}"
            )
        initial = dict(initial or {})
        self.params: dict[str, ADRParam] = {}
        for n in names:
            s = scalar[n]
            lo_lim, hi_lim = float(s.low), float(s.high)  # type: ignore[arg-type]
            init = initial.get(n, (lo_lim + hi_lim) / 2)
            lo, hi = (init, init) if isinstance(init, (int, float)) else (init[0], init[1])
            if not lo_lim <= lo <= hi <= hi_lim:
                raise ValueError(
                    f"initial range of {n!r} must lie in [{lo_lim}, {hi_lim}], got [{lo}, {hi}]"
                )
            self.params[n] = ADRParam(
                n, lo_lim, hi_lim, float(lo), float(hi), step * (hi_lim - lo_lim)
            )
        self.buffer_size = buffer_size
        self.lower_threshold = lower_threshold
        self.upper_threshold = upper_threshold
        self.boundary_prob = boundary_prob

    def sample(self, rng: np.random.Generator) -> tuple[dict[str, Any], Boundary | None]:
        """Params for one episode, and the boundary it evaluates (if any)."""
        flat = self.randomizer.flatten(self.randomizer.sample(rng))
        boundary = None
        if self.params and rng.random() < self.boundary_prob:
            names = list(self.params)
            boundary = Boundary(
                names[int(rng.integers(len(names)))], "low" if rng.random() < 0.5 else "high"
            )
        for name, p in self.params.items():
            if boundary is not None and boundary.name == name:
                flat[name] = p.low if boundary.side == "low" else p.high
            else:
                flat[name] = float(rng.uniform(p.low, p.high))
        return self.randomizer.unflatten(flat), boundary

    def update(self, boundary: Boundary | None, performance: float) -> None:
        """Record an episode's performance (for example success, 0 or 1)."""
        if boundary is None:
            return
        p = self.params[boundary.name]
        buf = p.buffers[boundary.side]
        buf.append(float(performance))
        if len(buf) < self.buffer_size:
            return
        mean = float(np.mean(buf))
        buf.clear()
        sign = 0
        if mean >= self.upper_threshold:
            sign = 1
        elif mean <= self.lower_threshold:
            sign = -1
        if boundary.side == "high":
            p.high = float(np.clip(p.high + sign * p.step, p.low, p.limit_high))
        else:
            p.low = float(np.clip(p.low - sign * p.step, p.limit_low, p.high))

    def entropy(self) -> float:
        """Mean log width of the ranges (nats per dimension; widths floored at 1e-6)."""
        if not self.params:
            return 0.0
        return float(np.mean([math.log(max(p.width, 1e-6)) for p in self.params.values()]))

    def ranges(self) -> dict[str, tuple[float, float]]:
        """Current ``(low, high)`` per controlled parameter."""
        return {n: (p.low, p.high) for n, p in self.params.items()}

    def state_dict(self) -> dict[str, Any]:
        """JSON-serializable state."""
        return {"params": [asdict(p) for p in self.params.values()]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state saved by :meth:`state_dict` for the same parameter names."""
        saved = {p["name"]: p for p in state.get("params", [])}
        if set(saved) != set(self.params):
            raise ValueError(
                f"ADR state is for params {sorted(saved)}, but this ADR controls {sorted(self.params)}"
            )
        for name, p in saved.items():
            self.params[name] = ADRParam(**p)

    def save(self, path: str | Path) -> None:
        """Write the state as JSON."""
        Path(path).write_text(json.dumps(self.state_dict(), indent=2))

    def load(self, path: str | Path) -> None:
        """Read a state written by :meth:`save`."""
        try:
            state = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read ADR state from {str(path)!r}: {exc}") from None
        self.load_state_dict(state)
