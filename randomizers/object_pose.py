"""Initial positions and yaw of task objects, placed at rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.options import choice_list, dist
from randomizers.options import name as option_name
from randomizers.placement import (
    MAX_TRIES,
    Rect,
    blocked,
    body_rect,
    disc_rect,
    fixture_rects,
    placement_rng,
)
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

    In a scene with fixtures, an object is kept clear of them, of distractors on the table
    and of the objects placed before it: a position that overlaps is drawn again from a
    generator seeded by the params (exact replay); after 100 tries the object stays where
    the task put it (clear of the fixtures). Without fixtures it goes where the params say.
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
            params[f"{role}.x"] = float(draw(self.x, rng))
            params[f"{role}.y"] = float(draw(self.y, rng))
            params[f"{role}.yaw"] = float(draw(self.yaw, rng))
        return params

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        c = scene.client
        keepout = fixture_rects(scene)
        if keepout:
            keepout += _distractor_rects(scene)
        rng: np.random.Generator | None = None
        for role in self.roles:
            for name in scene.body_names(role):
                pos, _ = scene.sim.pose(name)
                orn = c.getQuaternionFromEuler([0.0, 0.0, params[f"{role}.yaw"]])
                x, y = params[f"{role}.x"], params[f"{role}.y"]
                if keepout:
                    radius = _radius(c, scene.sim.body(name), pos)
                    for _ in range(MAX_TRIES):
                        if not blocked(disc_rect(x, y, radius), keepout):
                            break
                        rng = rng or placement_rng(self.name, params)
                        x, y = float(draw(self.x, rng)), float(draw(self.y, rng))
                    else:  # no free spot: stay where the task put it
                        x, y = float(pos[0]), float(pos[1])
                    keepout.append(disc_rect(x, y, radius))
                scene.sim.set_pose(name, [x, y, pos[2]], orn)


def _radius(client: Any, body: int, origin: Any) -> float:
    """Radius around a body's origin that holds its footprint at any yaw."""
    lo_x, lo_y, hi_x, hi_y = body_rect(client, body)
    dx = max(abs(lo_x - origin[0]), abs(hi_x - origin[0]))
    dy = max(abs(lo_y - origin[1]), abs(hi_y - origin[1]))
    return float(np.hypot(dx, dy))


def _distractor_rects(scene: Scene) -> list[Rect]:
    """Footprints of the distractors standing on the table now (parked ones are below it)."""
    c, top = scene.client, scene.table_top
    rects = []
    for name in scene.roles.get("distractors", []):
        body = scene.sim.body(name)
        if c.getBasePositionAndOrientation(body)[0][2] > top - 0.05:
            rects.append(body_rect(c, body))
    return rects
