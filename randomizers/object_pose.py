"""Initial positions and yaw of task objects, placed at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer
from randomizers.distributions import Distribution, Limits
from randomizers.options import choice_list, dist
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

# option -> limits (absolute, world frame): the table's reach, and one turn of yaw
LIMITS: dict[str, Limits] = {
    "x": Limits(-0.25, 1.25, unit="m, world x"),
    "y": Limits(-0.5, 0.5, unit="m, world y"),
    "yaw": Limits(-np.pi, np.pi, unit="rad"),
}


class ObjectPose(Randomizer):
    """Overrides where the task placed its objects (after the task's own reset).

    Options: ``x``, ``y`` (metres, world frame; default: the workspace's object box),
    ``yaw`` (radians; default +-pi), ``roles`` (default ``[target]``). The height is kept,
    so objects stay at rest on the table (or at the task's height for Reach). Limits of
    each option: :data:`LIMITS`.
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
        absolute = ("absolute",)
        return cls(
            x=dist(config, "x", where, limits=LIMITS["x"], modes=absolute),
            y=dist(config, "y", where, limits=LIMITS["y"], modes=absolute),
            yaw=dist(config, "yaw", where, limits=LIMITS["yaw"], modes=absolute),
            roles=choice_list(config, "roles", where, ("target", "objects"), ("target",),
                              unique=True),
            name=option_name(config, where),
        )  # fmt: skip

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

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        c = scene.client
        for role in self.roles:
            for name in scene.body_names(role):
                pos, _ = scene.sim.pose(name)
                orn = c.getQuaternionFromEuler([0.0, 0.0, params[f"{role}.yaw"]])
                scene.sim.set_pose(name, [params[f"{role}.x"], params[f"{role}.y"], pos[2]], orn)
