"""Initial positions and yaw of task objects, placed at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.distributions import Distribution
from randomizers.options import choice_list, dist
from randomizers.spaces import ParamSpec


class ObjectPose(Randomizer):
    """Overrides where the task placed its objects (after the task's own reset).

    Options: ``x``, ``y`` (metres, world frame; default: the workspace's object box),
    ``yaw`` (radians; default +-pi), ``roles`` (default ``[target]``). The height is kept,
    so objects stay at rest on the table (or at the task's height for Reach).
    """

    kind = "object_pose"
    options = ("x", "y", "yaw", "roles")

    def __init__(
        self,
        *,
        x: Distribution | None = None,
        y: Distribution | None = None,
        yaw: Distribution | None = None,
        roles: tuple[str, ...] = ("target",),
        name: str | None = None,
    ) -> None:
        super().__init__(name=name)
        self.x = x or Distribution("uniform", low=0.35, high=0.65)
        self.y = y or Distribution("uniform", low=-0.2, high=0.2)
        self.yaw = yaw or Distribution("uniform", low=-np.pi, high=np.pi)
        self.roles = roles

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        return cls(
            x=dist(config, "x", where, min_value=-0.25, max_value=1.25, modes=("absolute",)),
            y=dist(config, "y", where, min_value=-0.5, max_value=0.5, modes=("absolute",)),
            yaw=dist(config, "yaw", where, min_value=-np.pi, max_value=np.pi, modes=("absolute",)),
            roles=choice_list(config, "roles", where, ("target", "objects"), ("target",)),
            name=config.get("name"),
        )

    def space(self) -> list[ParamSpec]:
        # one pose per role: roles hold one body each for every built-in task
        return [
            spec
            for role in self.roles
            for spec in (self.x.spec(f"{role}.x"), self.y.spec(f"{role}.y"),
                         self.yaw.spec(f"{role}.yaw"))
        ]  # fmt: skip

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for role in self.roles:
            params[f"{role}.x"] = float(self.x.sample(rng))
            params[f"{role}.y"] = float(self.y.sample(rng))
            params[f"{role}.yaw"] = float(self.yaw.sample(rng))
        return params

    def apply(self, scene: Any, params: Mapping[str, Any]) -> None:
        c = scene.client
        for role in self.roles:
            for name in scene.body_names(role):
                pos, _ = scene.sim.pose(name)
                orn = c.getQuaternionFromEuler([0.0, 0.0, params[f"{role}.yaw"]])
                scene.sim.set_pose(name, [params[f"{role}.x"], params[f"{role}.y"], pos[2]], orn)
