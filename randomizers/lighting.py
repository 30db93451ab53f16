"""Lighting: direction, colour, distance, ambient / diffuse / specular coefficients, shadows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.options import dist, dist_vector, probability
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

_COEFF = Limits(0.0, 2.0, unit="renderer coefficient")
# option -> limits of what it samples (all absolute)
LIMITS: dict[str, Limits] = {
    "azimuth": Limits(-360.0, 360.0, unit="degrees"),
    "elevation": Limits(-90.0, 90.0, unit="degrees"),
    "color": Limits(0.0, 1.0, unit="per channel"),
    "distance": Limits(0.01, 50.0, unit="m from the origin"),
    "ambient": _COEFF,
    "diffuse": _COEFF,
    "specular": _COEFF,
}

_PYBULLET_KEYS = {
    "distance": "lightDistance",
    "ambient": "lightAmbientCoeff",
    "diffuse": "lightDiffuseCoeff",
    "specular": "lightSpecularCoeff",
}


class Lighting(Randomizer):
    """Samples the renderer's light; only configured quantities are randomized, the rest
    stay at the renderer's defaults.

    Options: ``azimuth`` and ``elevation`` (degrees; the light direction), ``color``
    (per-channel distribution, or three of them), ``distance``, ``ambient``, ``diffuse``,
    ``specular`` (distributions), ``shadow_probability``. Limits of each: :data:`LIMITS`.
    """

    kind = "lighting"
    step_schedulable = True
    options = ("azimuth", "elevation", "color", "distance", "ambient", "diffuse", "specular",
               "shadow_probability")  # fmt: skip

    def __init__(
        self,
        *,
        azimuth: Distribution | None = None,
        elevation: Distribution | None = None,
        color: list[Distribution] | None = None,
        distance: Distribution | None = None,
        ambient: Distribution | None = None,
        diffuse: Distribution | None = None,
        specular: Distribution | None = None,
        shadow_probability: float | None = None,
        name: str | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name=name, every_n_steps=every_n_steps)
        if (azimuth is None) != (elevation is None):
            azimuth = azimuth or Distribution("constant", low=45.0, high=45.0)
            elevation = elevation or Distribution("constant", low=45.0, high=45.0)
        self.azimuth, self.elevation = azimuth, elevation
        self.color = color
        self.scalars = {
            k: d
            for k, d in (("distance", distance), ("ambient", ambient), ("diffuse", diffuse),
                         ("specular", specular))
            if d is not None
        }  # fmt: skip
        self.shadow_probability = shadow_probability

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        absolute = ("absolute",)

        def one(key: str) -> Distribution | None:
            return dist(config, key, where, limits=LIMITS[key], modes=absolute)

        return cls(
            azimuth=one("azimuth"),
            elevation=one("elevation"),
            color=dist_vector(config, "color", where, 3, limits=LIMITS["color"], modes=absolute)
            if "color" in config else None,
            distance=one("distance"),
            ambient=one("ambient"),
            diffuse=one("diffuse"),
            specular=one("specular"),
            shadow_probability=probability(config, "shadow_probability", where, 0.0)
            if "shadow_probability" in config else None,
            name=option_name(config, where),
            every_n_steps=config.get("every_n_steps"),
        )  # fmt: skip

    def space(self) -> list[ParamSpec]:
        specs = []
        if self.azimuth is not None and self.elevation is not None:
            specs += [self.azimuth.spec("azimuth"), self.elevation.spec("elevation")]
        if self.color is not None:
            lo = min(d.spec("c").bounds[0] for d in self.color)
            hi = max(d.spec("c").bounds[1] for d in self.color)
            specs.append(ParamSpec("color", "continuous", lo, hi, size=3))
        specs += [d.spec(k) for k, d in self.scalars.items()]
        if self.shadow_probability is not None:
            specs.append(ParamSpec("shadow", "categorical", choices=(0, 1)))
        return specs

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.azimuth is not None and self.elevation is not None:
            params["azimuth"] = float(draw(self.azimuth, rng))
            params["elevation"] = float(draw(self.elevation, rng))
        if self.color is not None:
            params["color"] = [float(draw(d, rng)) for d in self.color]
        for k, d in self.scalars.items():
            params[k] = float(draw(d, rng))
        if self.shadow_probability is not None:
            params["shadow"] = int(rng.random() < self.shadow_probability)
        return params

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        light = scene.effects.light
        light.clear()
        if "azimuth" in params:
            az, el = math.radians(params["azimuth"]), math.radians(params["elevation"])
            light["lightDirection"] = [
                math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)
            ]  # fmt: skip
        if "color" in params:
            light["lightColor"] = list(params["color"])
        for k, key in _PYBULLET_KEYS.items():
            if k in params:
                light[key] = float(params[k])
        if "shadow" in params:
            light["shadow"] = int(params["shadow"])
