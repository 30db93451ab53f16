"""Push: slide a cube across the table into a goal region."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.objects import ObjectSpec
from envs.panda_env import PandaTaskEnv
from envs.scene import TableScene
from envs.tasks.object_task import ObjectTask
from randomizers.placement import blocked, disc_rect
from randomizers.spaces import ParamSpec

GOAL_DISTANCE = (0.1, 0.25)
"""metres: the default range of the goal's distance from the cube's start, in the table plane"""


class PushTask(ObjectTask):
    """The goal is a flat disc (no collision) on the table; success when the cube centre
    is within ``distance_threshold`` of its centre in the table plane."""

    name = "push"
    default_max_episode_steps = 100
    uses_gripper = False
    state_names: ClassVar[tuple[str, ...]] = (
        *ObjectTask.state_names, "goal_x", "goal_y", "goal_z",
        "goal_rel_cube_x", "goal_rel_cube_y", "goal_rel_cube_z",
    )  # fmt: skip

    def __init__(
        self,
        scene: TableScene,
        *,
        distance_threshold: float = 0.05,
        goal_distance: tuple[float, float] = GOAL_DISTANCE,
        max_yaw: float = np.pi / 4,
        object: str | ObjectSpec | Mapping[str, Any] = "cube",
    ) -> None:
        super().__init__(scene, max_yaw=max_yaw, object=object)
        if not distance_threshold > 0:
            raise ValueError(f"distance_threshold must be > 0 metres, got {distance_threshold}")
        if not 0 <= goal_distance[0] <= goal_distance[1]:
            raise ValueError(f"goal_distance must satisfy 0 <= low <= high, got {goal_distance}")
        self.distance_threshold = float(distance_threshold)
        self.goal_distance = goal_distance
        self.goal = np.array([0.5, 0.1, scene.table_top])
        self.sim.create_primitive(
            "goal", "cylinder", (self.distance_threshold, 0.002), mass=0.0,
            position=self.goal, rgba=(0.1, 0.8, 0.2, 1.0), collision=False,
        )  # fmt: skip
        self.objects["goal"] = "goal_region"

    def state_space(self) -> list[ParamSpec]:
        ws = self.scene.workspace
        return [
            *self.cube_space(),
            ParamSpec("goal.x", "continuous", ws.object_low[0], ws.object_high[0]),
            ParamSpec("goal.y", "continuous", ws.object_low[1], ws.object_high[1]),
        ]

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        state: dict[str, Any] = dict(self.sample_cube(rng))
        ws = self.scene.workspace
        (lo_x, lo_y), (hi_x, hi_y) = ws.object_low[:2], ws.object_high[:2]
        cx, cy = state[f"{self.key}.x"], state[f"{self.key}.y"]
        keepout = self.keepout()
        d_lo, d_hi = (float(v) for v in self.goal_distance)
        # Python floats, not small arrays: the same values as rng.uniform and NumPy's
        # float64 arithmetic (Generator.uniform is low + (high - low) * next_double), at a
        # fraction of the per-call cost; np.cos / np.sin stay NumPy's own
        for _ in range(100):
            angle = -math.pi + (math.pi - -math.pi) * rng.random()
            dist = d_lo + (d_hi - d_lo) * rng.random()
            x = cx + dist * float(np.cos(angle))
            y = cy + dist * float(np.sin(angle))
            inside = lo_x <= x <= hi_x and lo_y <= y <= hi_y
            if inside and not self._on_fixture(np.array([x, y]), keepout):
                break
        else:  # extremely unlikely; fall back to a clipped goal
            x, y = min(max(x, lo_x), hi_x), min(max(y, lo_y), hi_y)
        state["goal.x"], state["goal.y"] = float(x), float(y)
        return state

    def _on_fixture(self, xy: np.ndarray, keepout: list[tuple[float, float, float, float]]) -> bool:
        """Whether the goal disc at ``xy`` overlaps a fixture (never without fixtures)."""
        return bool(keepout) and blocked(disc_rect(xy[0], xy[1], self.distance_threshold), keepout)

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.place_cube(state)
        self.goal = np.array([state["goal.x"], state["goal.y"], self.scene.table_top + 0.001])
        self.sim.set_pose("goal", self.goal)

    def after_randomization(self) -> None:
        super().after_randomization()
        if self.scene.table_offset:  # the table-height randomizer moved the goal disc
            self.goal = self.sim.pose("goal")[0]

    def _distance(self) -> float:
        pos = self._cube()[0]
        return math.hypot(pos[0] - self._goal[0], pos[1] - self._goal[1])

    def observation(self) -> list[float]:
        pos, g = self._cube()[0], self._goal
        return [*self.cube_observation(), *g, g[0] - pos[0], g[1] - pos[1], g[2] - pos[2]]

    def is_success(self) -> bool:
        return self._distance() < self.distance_threshold

    def dense_reward(self) -> float:
        return -self._distance() - 0.1 * math.dist(self.robot.ee_position(), self._cube()[0])

    def privileged_state(self) -> dict[str, np.ndarray]:
        state = super().privileged_state()
        state["goal_pos"] = self.goal
        return state


class PushEnv(PandaTaskEnv):
    """Push a 4 cm cube (or ``task_kwargs={"object": ...}``, see :class:`LiftEnv`) into a goal
    disc on the table.

    ## Action space
    ``Box(-1, 1, (3,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` per step; the fingers stay closed.

    ## Observation space
    See :class:`envs.panda_env.PandaTaskEnv`; state entries are ``PushTask.state_names``.

    ## Rewards
    ``dense``: minus the cube-to-goal distance in the table plane, minus 0.1 x the
    end-effector-to-cube distance. ``sparse``: 0 on success, -1 otherwise.

    ## Starting state
    Cube at rest at a random position and yaw (+-45 deg); goal 10-25 cm away, on the table.

    ## Episode end
    Terminates on success (cube centre within 5 cm of the goal) or when the cube leaves the
    table; truncates after 100 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = PushTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
