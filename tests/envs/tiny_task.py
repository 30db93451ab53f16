"""docs/TASKS.md's example, as printed there from ``from __future__`` on (a test checks it):
importing this module registers ``user/Tiny-v0``, so ``--env tests.envs.tiny_task:user/Tiny-v0``
works in every command."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.registration import register_task
from envs.scene import TableScene
from envs.tasks.base import ROBOT_STATE_NAMES, Task
from randomizers.spaces import ParamSpec

ENV_ID = "user/Tiny-v0"


class TinyTask(Task):
    """Touch the top of a small blue box on the table with the end effector."""

    name = "tiny"
    default_max_episode_steps = 20
    uses_gripper = False
    state_names: ClassVar[tuple[str, ...]] = (*ROBOT_STATE_NAMES, "box_x", "box_y", "box_z")
    half = 0.03

    def __init__(self, scene: TableScene, *, threshold: float = 0.05) -> None:
        super().__init__(scene)
        self.threshold = threshold
        self.rest_z = scene.table_top + self.half
        self.sim.create_primitive(
            "box", "box", (self.half,) * 3, mass=0.0,
            position=(0.5, 0.0, self.rest_z), rgba=(0.2, 0.4, 0.9, 1.0),
        )  # fmt: skip
        self.objects["box"] = "target"  # body name -> category (labels, COCO)

    def state_space(self) -> list[ParamSpec]:
        ws = self.scene.workspace
        return [
            ParamSpec("box.x", "continuous", ws.object_low[0], ws.object_high[0]),
            ParamSpec("box.y", "continuous", ws.object_low[1], ws.object_high[1]),
        ]

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        ws = self.scene.workspace
        x, y = rng.uniform(ws.object_low, ws.object_high).tolist()
        return {"box.x": x, "box.y": y}

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.sim.set_pose("box", (state["box.x"], state["box.y"], self.rest_z))
        self.goal = np.array([state["box.x"], state["box.y"], self.rest_z + self.half])

    def observation(self) -> list[float]:
        return list(self._goal)

    def _distance(self) -> float:
        return math.dist(self.robot.ee_position(), self._goal)

    def is_success(self) -> bool:
        return self._distance() < self.threshold

    def dense_reward(self) -> float:
        return -self._distance()

    def privileged_state(self) -> dict[str, np.ndarray]:
        ee, ee_vel = self.robot.ee_state()
        return {"ee_pos": ee, "ee_vel": ee_vel, "goal_pos": self.goal}


TinyEnv = register_task(ENV_ID, TinyTask)
