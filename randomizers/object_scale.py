"""The size of the task's target object: pre-scaled copies made at setup, one swapped in per
episode (PyBullet cannot rescale a body, and a reset must load nothing)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.errors import PresetError
from randomizers.object_pool import BASE_OF, CANDIDATES, VARIANTS, object_scene, register_variant
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

SCALE_LIMITS = (0.25, 4.0)  # x the object's size
MAX_SCALES = 16  # copies per object


class ObjectScale(Randomizer):
    """Scales the target object by one of ``scales`` each episode (uniformly).

    Options: ``scales``: the factors (default [0.8, 0.9, 1.0, 1.1, 1.2]; each in
    [0.25, 4], at most 16). Every target object (the task's, and each of a
    ``target_object`` randomizer's) gets one copy per factor, created when the env is
    built; mass is kept. The copy rests where the object would, at its own height.
    """

    kind = "object_scale"
    options = ("scales",)

    def __init__(
        self, scales: Sequence[float] = (0.8, 0.9, 1.0, 1.1, 1.2), *, name: str | None = None
    ) -> None:
        super().__init__(name=name)
        values = list(scales) if isinstance(scales, (list, tuple)) else None
        lo, hi = SCALE_LIMITS
        if (
            not values
            or len(values) > MAX_SCALES
            or any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values)
            or not all(math.isfinite(v) and lo <= v <= hi for v in values)
        ):
            raise PresetError(
                f"{self.name}.scales: expected 1 to {MAX_SCALES} factors in [{lo}, {hi}], "
                f"got {scales!r}"
            )
        if len(set(values)) != len(values):
            raise PresetError(f"{self.name}.scales: each factor may appear once, got {values}")
        self.scales = tuple(float(v) for v in values)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        try:
            return cls(config.get("scales", (0.8, 0.9, 1.0, 1.1, 1.2)),
                       name=option_name(config, where))  # fmt: skip
        except PresetError as exc:
            raise PresetError(str(exc).replace(f"{cls.kind}.", f"{where}.", 1)) from None

    def space(self) -> list[ParamSpec]:
        return [ParamSpec("scale", "categorical", choices=self.scales)]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"scale": self.scales[int(rng.integers(len(self.scales)))]}

    def setup(self, scene: Scene) -> None:
        key = f"{self.name}/ready"
        if key in scene.store:
            return
        objs = object_scene(scene, self.name)
        bases = list(scene.store.get(CANDIDATES) or scene.body_names("target")[:1])
        for base in bases:
            register_variant(scene, base, 1.0, base)
            spec = objs.objects[base].spec
            for s in self.scales:
                if (base, s) in scene.store[VARIANTS]:
                    continue
                body = f"{base}@x{s:g}"
                objs.add_object(body, spec.scaled(s), pooled=True)
                register_variant(scene, base, s, body)
        scene.store[key] = True

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        current = scene.body_names("target")[0]
        base, _ = scene.store[BASE_OF].get(current, (current, 1.0))
        body = scene.store[VARIANTS].get((base, float(params["scale"])))
        if body is None:
            raise PresetError(
                f"{self.name}: no copy of {base!r} at scale {params['scale']}; a target_object "
                "randomizer must come before object_scale (presets order them so)"
            )
        object_scene(scene, self.name).swap_object("target", body)
