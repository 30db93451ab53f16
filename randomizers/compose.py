"""``Compose``: several randomizers acting as one; params are ``{name: params}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.errors import PresetError
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec, check_keys

SEP = "/"


class Compose(Randomizer):
    """Applies its children in order; each child samples from the same generator in turn."""

    kind = "compose"

    def __init__(self, randomizers: Sequence[Randomizer], *, name: str | None = None) -> None:
        super().__init__(name=name)
        names = [r.name for r in randomizers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PresetError(
                f"randomizer names must be unique inside a Compose; repeated: {dupes}"
            )
        self.randomizers = list(randomizers)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        raise PresetError(f"{where}: build a Compose from a preset file or a list of randomizers")

    def __getitem__(self, name: str) -> Randomizer:
        for r in self.randomizers:
            if r.name == name:
                return r
        raise KeyError(f"no randomizer named {name!r}; names: {[r.name for r in self.randomizers]}")

    def space(self) -> list[ParamSpec]:
        """Children's specs, named ``child/param``."""
        return [
            replace(spec, name=f"{r.name}{SEP}{spec.name}")
            for r in self.randomizers
            for spec in r.space()
        ]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {r.name: r.sample(rng) for r in self.randomizers}

    def setup(self, scene: Scene) -> None:
        for r in self.randomizers:
            r.setup(scene)

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        for r in self.randomizers:
            r.apply(scene, params[r.name])

    def validate(self, params: Any, where: str | None = None) -> dict[str, Any]:
        where = where or "randomization"
        check_keys(params, [r.name for r in self.randomizers], where, "randomizer")
        return {r.name: r.validate(params[r.name], f"{where}.{r.name}") for r in self.randomizers}

    def step_update(
        self, scene: Scene, rng: np.random.Generator, step: int
    ) -> dict[str, dict[str, Any]]:
        """Resample and apply the children due at env step ``step``; returns their new params."""
        updates: dict[str, dict[str, Any]] = {}
        for r in self.randomizers:
            if r.every_n_steps and step % r.every_n_steps == 0:
                params = r.sample(rng)
                r.apply(scene, params)
                updates[r.name] = params
        return updates

    @property
    def has_step_schedule(self) -> bool:
        """Whether any child resamples during an episode."""
        return any(r.every_n_steps for r in self.randomizers)

    def flatten(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``{child: {p: v}}`` -> ``{"child/p": v}`` (the names of :meth:`space`)."""
        return {f"{c}{SEP}{k}": v for c, sub in params.items() for k, v in sub.items()}

    def unflatten(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """Inverse of :meth:`flatten`."""
        out: dict[str, dict[str, Any]] = {r.name: {} for r in self.randomizers}
        for key, v in flat.items():
            child, _, p = key.partition(SEP)
            out[child][p] = v
        return out

    def __repr__(self) -> str:
        return f"Compose({self.randomizers!r})"


class ParamGroup(Randomizer):
    """A declared group of params that something else samples and applies.

    The env records the task's initial state as ``params["task"]``; ``Compose([*children,
    ParamGroup("task", specs)])`` then encodes, decodes and validates whole episodes (SMOTE
    and ADR act on placement too). Sampling and applying belong to the owner of the params.
    """

    kind = "group"

    def __init__(self, name: str, specs: Sequence[ParamSpec]) -> None:
        super().__init__(name=name)
        self.specs = list(specs)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        raise PresetError(f"{where}: a parameter group is declared by code, not by a preset")

    def space(self) -> list[ParamSpec]:
        return list(self.specs)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        raise NotImplementedError(f"{self.name!r} params are sampled by their owner")

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        raise NotImplementedError(f"{self.name!r} params are applied by their owner")
