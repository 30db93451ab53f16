"""Table height: move the table, and everything standing on it, up or down each episode.

The robot is mounted on the table, so it moves too; the cameras stay where they are, so
the table appears nearer or farther. Tasks, workspace, experts and labels read the table
top from ``scene.table_top``, which follows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, cast

import numpy as np

from randomizers.base import Randomizer
from randomizers.distributions import Distribution, Limits
from randomizers.options import dist
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

LIMITS = Limits(-0.4, 0.3, unit="m from the nominal table top")
DEFAULT_OFFSET = (-0.1, 0.05)


class TableHeightScene(Scene, Protocol):
    """A scene that can move its table (the env's ``TableScene``)."""

    def set_table_offset(self, offset: float) -> None:
        """Put the table ``offset`` metres from its nominal height, with what is on it."""


class TableHeight(Randomizer):
    """Offsets the table height by ``offset`` metres each episode.

    Options: ``offset`` (a distribution in metres, default uniform [-0.1, 0.05]; limits
    [-0.4, 0.3]). Param: ``offset``. The table, the robot on it, fixtures on it, the task's
    objects and goals and the distractors on it all move by the offset; ``scene.table_top``
    and the robot's end-effector box follow.
    """

    kind = "table_height"
    options = ("offset",)

    def __init__(self, *, offset: Distribution | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self.offset = offset or Distribution("uniform", low=DEFAULT_OFFSET[0],
                                             high=DEFAULT_OFFSET[1])  # fmt: skip
        self.offset.check(LIMITS, f"{self.name}.offset")

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        return cls(
            offset=dist(config, "offset", where, limits=LIMITS, modes=("absolute",)),
            name=option_name(config, where),
        )

    def space(self) -> list[ParamSpec]:
        return [self.offset.spec("offset")]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {"offset": float(self.offset.sample(rng))}

    def setup(self, scene: Scene) -> None:
        _table_scene(scene, self.name)

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        _table_scene(scene, self.name).set_table_offset(float(params["offset"]))


def _table_scene(scene: Scene, who: str) -> TableHeightScene:
    """``scene`` as a :class:`TableHeightScene`; a ``TypeError`` when it cannot move its table."""
    if not hasattr(scene, "set_table_offset"):
        raise TypeError(
            f"{who}: the scene {type(scene).__name__} cannot move its table (it lacks "
            "set_table_offset); use the env's TableScene"
        )
    return cast(TableHeightScene, scene)


__all__ = ["TableHeight", "TableHeightScene"]
