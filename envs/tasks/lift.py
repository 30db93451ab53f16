"""Lift: grasp an object (the cube by default) and raise it above a height."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.objects import ObjectSpec
from envs.panda_env import PandaTaskEnv
from envs.scene import TableScene
from envs.tasks.object_task import ObjectTask
from randomizers.spaces import ParamSpec


class LiftTask(ObjectTask):
    """Success when the object is grasped and its base is ``lift_height`` above its rest height
    (the cube by default; ``object`` picks another, see :class:`ObjectTask`)."""

    name = "lift"
    default_max_episode_steps = 100
    uses_gripper = True
    state_names: ClassVar[tuple[str, ...]] = (*ObjectTask.state_names, "lift_target_z")

    def __init__(
        self,
        scene: TableScene,
        *,
        lift_height: float = 0.1,
        max_yaw: float = np.pi / 4,
        object: str | ObjectSpec | Mapping[str, Any] = "cube",
    ) -> None:
        if not 0 < lift_height <= 0.4:
            raise ValueError(f"lift_height must be in (0, 0.4] metres, got {lift_height}")
        self.lift_height = float(lift_height)
        super().__init__(scene, max_yaw=max_yaw, object=object)

    @property
    def target_z(self) -> float:
        """Height the object's base must reach: ``lift_height`` above its rest height on the
        table where the table is now."""
        return self.cube_rest_z + self.lift_height

    def state_space(self) -> list[ParamSpec]:
        return self.cube_space()

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        return dict(self.sample_cube(rng))

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.place_cube(state)

    def observation(self) -> list[float]:
        return [*self.cube_observation(), self.target_z]

    def is_success(self) -> bool:
        if self._cube()[0][2] < self.target_z:
            return False
        left, right = self.robot.touching(self.cube)
        return left and right

    def dense_reward(self) -> float:
        pos = self._cube()[0]
        reach = math.dist(self.robot.ee_position(), pos)
        lift = max(0.0, self.target_z - pos[2])
        return -reach - 2.0 * lift

    def privileged_state(self) -> dict[str, np.ndarray]:
        state = super().privileged_state()
        state["goal_pos"] = np.array([*state["object_pos"][:2], self.target_z])
        return state


class LiftEnv(PandaTaskEnv):
    """Grasp a 4 cm cube (or ``task_kwargs={"object": ...}``: a built-in object such as
    ``"mug"``, a file path or an :class:`envs.objects.ObjectSpec`) and lift it 10 cm.

    ## Action space
    ``Box(-1, 1, (4,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` per step, then the gripper opening: -1 closed, +1 fully
    open (8 cm), linear in between.

    ## Observation space
    See :class:`envs.panda_env.PandaTaskEnv`; state entries are ``LiftTask.state_names``.

    ## Rewards
    ``dense``: minus the end-effector-to-cube distance, minus 2 x the height still missing.
    ``sparse``: 0 on success, -1 otherwise.

    ## Starting state
    Cube at rest at a random position and yaw (+-45 deg); gripper open.

    ## Episode end
    Terminates when the grasped cube is 10 cm above its rest height or leaves the table;
    truncates after 100 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = LiftTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
