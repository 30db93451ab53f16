"""Camera pose and optics: eye and look-at jitter, roll, field-of-view scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.distributions import Distribution
from randomizers.options import dist, dist_vector
from randomizers.spaces import ParamSpec

_ZERO = Distribution("constant")


class CameraPose(Randomizer):
    """Offsets the nominal camera (captured once per scene); K and the extrinsics follow.

    Options: ``eye_offset`` and ``target_offset`` (metres; one distribution for all three
    axes or a list of three), ``roll`` (degrees), ``fov_scale``.
    """

    kind = "camera"
    step_schedulable = True
    options = ("eye_offset", "target_offset", "roll", "fov_scale")

    def __init__(
        self,
        *,
        eye_offset: list[Distribution] | None = None,
        target_offset: list[Distribution] | None = None,
        roll: Distribution | None = None,
        fov_scale: Distribution | None = None,
        name: str | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name=name, every_n_steps=every_n_steps)
        self.eye_offset = eye_offset or [_ZERO] * 3
        self.target_offset = target_offset or [_ZERO] * 3
        self.roll = roll or _ZERO
        self.fov_scale = fov_scale or Distribution("constant", low=1.0, high=1.0)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        box = {"min_value": -1.0, "max_value": 1.0, "modes": ("absolute",)}
        return cls(
            eye_offset=dist_vector(config, "eye_offset", where, 3, **box),
            target_offset=dist_vector(config, "target_offset", where, 3, **box),
            roll=dist(config, "roll", where, 0.0, min_value=-180.0, max_value=180.0,
                      modes=("absolute",)),
            fov_scale=dist(config, "fov_scale", where, 1.0, min_value=0.2, max_value=3.0,
                           modes=("absolute",)),
            name=config.get("name"),
            every_n_steps=config.get("every_n_steps"),
        )  # fmt: skip

    @staticmethod
    def _box(ds: list[Distribution], name: str) -> ParamSpec:
        bounds = [d.spec(name).bounds for d in ds]
        return ParamSpec(
            name, "continuous", min(b[0] for b in bounds), max(b[1] for b in bounds), size=3
        )

    def space(self) -> list[ParamSpec]:
        return [
            self._box(self.eye_offset, "eye_offset"),
            self._box(self.target_offset, "target_offset"),
            self.roll.spec("roll"),
            self.fov_scale.spec("fov_scale"),
        ]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {
            "eye_offset": [float(d.sample(rng)) for d in self.eye_offset],
            "target_offset": [float(d.sample(rng)) for d in self.target_offset],
            "roll": float(self.roll.sample(rng)),
            "fov_scale": float(self.fov_scale.sample(rng)),
        }

    def setup(self, scene: Any) -> None:
        scene.store.setdefault("camera/nominal", scene.camera_config)

    def apply(self, scene: Any, params: Mapping[str, Any]) -> None:
        nominal = scene.store["camera/nominal"]
        eye = tuple(float(a + b) for a, b in zip(nominal.eye, params["eye_offset"], strict=True))
        tgt = tuple(
            float(a + b) for a, b in zip(nominal.target, params["target_offset"], strict=True)
        )
        scene.set_camera(
            replace(
                nominal,
                eye=eye,
                target=tgt,
                roll=nominal.roll + params["roll"],
                fov=min(nominal.fov * params["fov_scale"], 170.0),
            )
        )
