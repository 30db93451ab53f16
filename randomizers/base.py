"""The randomizer protocol: declare a space, sample params (pure), apply them to a scene.

A randomizer holds configuration only. Per-scene state (texture slots, body pools, the
nominal values captured once) lives in ``scene.store[self.name]``, created by
:meth:`Randomizer.setup` when the env is built, so a randomizer can serve many envs and
never holds a simulation reference that could go stale.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from randomizers.errors import PresetError
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec, validate_params

if TYPE_CHECKING:
    from randomizers.distributions import Distribution


def draw(d: Distribution, rng: np.random.Generator) -> Any:
    """``d.sample(rng)``: the same value from the same generator state, bit for bit, without
    NumPy's per-call argument handling for uniform draws and unweighted choices (about 2 us
    each in a tight loop, more between renders; a ``tobin`` reset makes about 20)."""
    if d.dist == "uniform":  # Generator.uniform computes low + (high - low) * next_double
        low = float(d.low)
        return low + (float(d.high) - low) * rng.random()
    if d.dist == "choice" and d.p is None:  # Generator.choice(n) draws integers(0, n)
        v = d.values[int(rng.integers(0, len(d.values)))]
        return v.item() if isinstance(v, np.generic) else v
    return d.sample(rng)


class Randomizer(ABC):
    """Base class of every randomizer kind.

    Args:
        name: key of this randomizer's params inside a :class:`Compose` (default: the kind).
        every_n_steps: also resample every N env steps (only kinds with
            ``step_schedulable``: camera shake, lighting flicker, noise); ``None``: per reset.
    """

    kind: ClassVar[str]
    step_schedulable: ClassVar[bool] = False
    options: ClassVar[tuple[str, ...]] = ()
    _preset_options: dict[str, Any] | None = None  # set by from_config

    def __init__(self, *, name: str | None = None, every_n_steps: int | None = None) -> None:
        self.name = name or self.kind
        if every_n_steps is not None:
            if not self.step_schedulable:
                raise PresetError(
                    f"{self.name}: every_n_steps is not supported by the {self.kind!r} randomizer; "
                    "it resamples on reset only"
                )
            if (
                isinstance(every_n_steps, bool)
                or not isinstance(every_n_steps, int)
                or every_n_steps < 1
            ):
                raise PresetError(
                    f"{self.name}.every_n_steps: expected an int >= 1, got {every_n_steps!r}"
                )
        self.every_n_steps = every_n_steps

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None, where: str) -> Randomizer:
        """Build from a preset mapping, rejecting unknown keys with the allowed ones."""
        if config is not None and not isinstance(config, Mapping):
            raise PresetError(
                f"{where}: expected a mapping of options, got {type(config).__name__}"
            )
        options = dict(config or {})
        allowed = (*cls.options, "name", "every_n_steps")
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise PresetError(f"{where}: unknown option(s) {unknown}; allowed: {sorted(allowed)}")
        n = options.get("every_n_steps")
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise PresetError(f"{where}.every_n_steps: expected an int >= 1, got {n!r}")
        if "every_n_steps" in options and not cls.step_schedulable:
            raise PresetError(
                f"{where}.every_n_steps: every_n_steps is not supported by the {cls.kind!r} "
                "randomizer; it resamples on reset only"
            )
        randomizer = cls._from_options(options, where)
        randomizer._preset_options = copy.deepcopy(options)
        return randomizer

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        """Construct from option keys already checked against :attr:`options`; by default
        ``cls(**config)`` (each option a keyword argument of ``__init__``). Override it to
        parse options into other objects (the built-in kinds parse distributions)."""
        try:
            return cls(**config)
        except (TypeError, ValueError) as exc:
            raise PresetError(f"{where}: {exc}") from None

    def to_options(self) -> dict[str, Any] | None:
        """The preset options that rebuild this randomizer (what a dataset manifest records);
        ``None`` when it was built in code rather than from a preset."""
        return copy.deepcopy(self._preset_options)

    @abstractmethod
    def space(self) -> list[ParamSpec]:
        """The declared parameter space (flat names)."""

    @abstractmethod
    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw params (plain JSON data) without touching any simulator."""

    def setup(self, scene: Scene) -> None:  # noqa: B027 - optional hook, no-op by default
        """Create per-scene resources once, before the env saves its initial state."""

    @abstractmethod
    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        """Write params into the scene, as absolute values computed from nominal ones."""

    def validate(self, params: Any, where: str | None = None) -> dict[str, Any]:
        """Check params against :meth:`space`; returns a clean copy."""
        return validate_params(self.space(), params, where or self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
