"""Reach: move the end effector to a target object floating over the table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.panda_env import PandaTaskEnv
from envs.scene import TableScene
from envs.tasks.base import ROBOT_STATE_NAMES, Task
from randomizers.spaces import ParamSpec


class ReachTask(Task):
    """The target is a sphere without collision, so the gripper can reach its centre."""

    name = "reach"
    default_max_episode_steps = 50
    uses_gripper = False
    state_names: ClassVar[tuple[str, ...]] = (
        *ROBOT_STATE_NAMES,
        "target_x", "target_y", "target_z",
        "target_rel_ee_x", "target_rel_ee_y", "target_rel_ee_z",
    )  # fmt: skip
    target_radius = 0.025

    def __init__(self, scene: TableScene, *, distance_threshold: float = 0.03) -> None:
        super().__init__(scene)
        if not distance_threshold > 0:
            raise ValueError(f"distance_threshold must be > 0 metres, got {distance_threshold}")
        self.distance_threshold = float(distance_threshold)
        top = scene.table_top
        self.low = np.array([0.3, -0.2, top + 0.05])
        self.high = np.array([0.65, 0.2, top + 0.3])
        self.sim.create_primitive(
            "target", "sphere", (self.target_radius,), mass=0.0,
            position=(0.5, 0.0, top + 0.2), rgba=(0.1, 0.8, 0.2, 1.0), collision=False,
        )  # fmt: skip
        self.objects["target"] = "target"
        self.goal = np.array([0.5, 0.0, top + 0.2])

    def state_space(self) -> list[ParamSpec]:
        return [
            ParamSpec(f"target.{axis}", "continuous", float(lo), float(hi))
            for axis, lo, hi in zip("xyz", self.low, self.high, strict=True)
        ]

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        x, y, z = rng.uniform(self.low, self.high).tolist()
        return {"target.x": x, "target.y": y, "target.z": z}

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.goal = np.array([state["target.x"], state["target.y"], state["target.z"]])
        self.sim.set_pose("target", self.goal)

    def after_randomization(self) -> None:
        self.goal = self.sim.pose("target")[0]

    def _distance(self) -> float:
        return math.dist(self.robot.ee_position(), self._goal)

    def observation(self) -> list[float]:
        ee, g = self.robot.ee_position(), self._goal
        return [*g, g[0] - ee[0], g[1] - ee[1], g[2] - ee[2]]

    def is_success(self) -> bool:
        return self._distance() < self.distance_threshold

    def dense_reward(self) -> float:
        return -self._distance()

    def privileged_state(self) -> dict[str, np.ndarray]:
        ee, ee_vel = self.robot.ee_state()
        return {
            "ee_pos": ee,
            "ee_vel": ee_vel,
            "finger_width": np.array([self.robot.finger_width()]),
            "goal_pos": self.goal,
            "table_top": np.array([self.scene.table_top]),
        }


class ReachEnv(PandaTaskEnv):
    """Reach a target sphere with the Panda's end effector.

    ## Action space
    ``Box(-1, 1, (3,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` (5 cm) per step; the gripper stays closed.

    ## Observation space
    Chosen by ``obs_mode`` (see :class:`envs.panda_env.PandaTaskEnv`); the state vector
    is ``ReachTask.state_names``: end-effector position and velocity, finger width, target
    position and target minus end effector.

    ## Rewards
    ``dense``: minus the end-effector-to-target distance (m). ``sparse``: 0 on success, -1 else.

    ## Starting state
    Arm at its home pose; target uniformly in a 35 x 40 x 25 cm box over the table.

    ## Episode end
    Terminates when the end effector is within 3 cm of the target; truncates after 50 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = ReachTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
