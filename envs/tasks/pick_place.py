"""PickPlace: pick an object (the cube by default) and place it into a tray.

Built only through the Task API (docs/TASKS.md): the object is an :class:`ObjectTask`
object, the tray (``tray/traybox.urdf`` from ``pybullet_data``) a static object loaded with
``scene.add_object``; both are placed per episode from the task's own initial state.
"""

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

TRAY = ObjectSpec("tray/traybox.urdf", scale=0.4, category="tray")
TRAY_X = (0.4, 0.6)  # where the tray's centre goes (world x, metres)
TRAY_Y = (-0.2, 0.2)
CLEARANCE = 0.05  # m between the tray's rim and the object's box, and the fingers' room
DROP = 0.02  # m: the expert lets go with the object's bottom this far above the tray floor
MAX_TRIES = 100  # draws of the object's position before it is put beside the tray


class PickPlaceTask(ObjectTask):
    """Success when the object rests, released, inside the tray's floor footprint.

    Initial state: the object's ``cube.x``/``object.x``, ``.y``, ``.yaw`` (see
    :class:`ObjectTask`) plus ``tray.x``, ``tray.y``; the object is drawn until it lies
    ``CLEARANCE`` clear of the tray, so both start apart.
    """

    name = "pick_place"
    default_max_episode_steps = 150
    uses_gripper = True
    state_names: ClassVar[tuple[str, ...]] = (*ObjectTask.state_names, "tray_x", "tray_y", "tray_z")

    def __init__(
        self,
        scene: TableScene,
        *,
        max_yaw: float = np.pi / 4,
        object: str | ObjectSpec | Mapping[str, Any] = "cube",
        tray: str | ObjectSpec | Mapping[str, Any] = TRAY,
    ) -> None:
        self._extras: dict[str, str] = {}
        super().__init__(scene, max_yaw=max_yaw, object=object)
        spec = scene.resolve_object(tray)
        park = (TRAY_X[0], TRAY_Y[1] + 0.5, scene.table_top + 0.3)
        self.tray = scene.add_object("tray", spec, position=park, static=True)
        c = self.sim.client
        lo, hi = c.getAABB(self.tray.body)
        self.tray_half = (float(hi[0] - lo[0]) / 2, float(hi[1] - lo[1]) / 2)
        self.tray_rest_z = scene.table_top + self.tray.rest_z
        # the floor is the lowest point a ray down the tray's centre hits
        hit = c.rayTest([park[0], park[1], hi[2] + 0.1], [park[0], park[1], lo[2] - 0.1])[0]
        self.floor_height = float(hit[3][2] - park[2]) if hit[0] == self.tray.body else 0.0
        self.inner_half = 0.6 * min(self.tray_half)  # the flat floor inside the slanted walls
        self._extras["tray"] = spec.category
        self.objects.update(self._extras)
        self.tray_pos = (0.0, 0.0, 0.0)

    def _bind(self, name: str) -> None:
        super()._bind(name)
        self.objects.update(self._extras)  # the tray is not the task object, but it stays

    # -- initial state ----------------------------------------------------------------
    def state_space(self) -> list[ParamSpec]:
        return [
            *self.cube_space(),
            ParamSpec("tray.x", "continuous", *TRAY_X),
            ParamSpec("tray.y", "continuous", *TRAY_Y),
        ]

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        tray = {"tray.x": float(rng.uniform(*TRAY_X)), "tray.y": float(rng.uniform(*TRAY_Y))}
        reach = max(self.ob.half[:2]) + CLEARANCE
        k = self.key
        for _ in range(MAX_TRIES):
            cube = self.sample_cube(rng)
            if (abs(cube[f"{k}.x"] - tray["tray.x"]) > self.tray_half[0] + reach
                    or abs(cube[f"{k}.y"] - tray["tray.y"]) > self.tray_half[1] + reach):  # fmt: skip
                break
        else:  # the workspace leaves no room: beside the tray, on the side with more table
            side = -1.0 if tray["tray.y"] > 0 else 1.0
            cube[f"{k}.y"] = tray["tray.y"] + side * (self.tray_half[1] + reach)
        return {**cube, **tray}

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.place_cube(state)
        self.tray_pos = (float(state["tray.x"]), float(state["tray.y"]), self.tray_rest_z)
        self.sim.set_pose("tray", self.tray_pos, self.tray.rest_orientation)
        self.goal = np.array([*self.tray_pos[:2], self.tray_rest_z + self.floor_height])

    # -- readings ---------------------------------------------------------------------
    def observation(self) -> list[float]:
        return [*self.cube_observation(), *self.tray_pos]

    def _inside(self) -> tuple[bool, float]:
        """Whether the object's box centre is over the tray floor, and its distance from
        the tray's centre line."""
        centre, _ = self.object_box()
        dx, dy = centre[0] - self._goal[0], centre[1] - self._goal[1]
        return max(abs(dx), abs(dy)) < self.inner_half, math.hypot(dx, dy)

    def is_success(self) -> bool:
        inside, _ = self._inside()
        if not inside:
            return False
        centre, half = self.object_box()
        resting = centre[2] - half[2] < self._goal[2] + 0.01
        slow = math.hypot(*self._cube()[2]) < 0.05
        left, right = self.robot.touching(self.cube)
        return bool(resting and slow and not (left and right))

    def dense_reward(self) -> float:
        pos = self._cube()[0]
        reach = math.dist(self.robot.ee_position(), pos)
        _, off = self._inside()
        return -reach - 2.0 * off

    def privileged_state(self) -> dict[str, np.ndarray]:
        state = super().privileged_state()
        centre, half = self.object_box()
        # the grasp point's height above the object's bottom, so the object lands softly
        above = float(state["grasp_pos"][2] - (centre[2] - half[2]))
        state["goal_pos"] = self.goal
        state["place_pos"] = np.array([*self._goal[:2], self._goal[2] + above + DROP])
        state["tray_pos"] = np.array(self.tray_pos)
        state["max_finger_width"] = np.array([self.robot.max_width])
        return state


class PickPlaceEnv(PandaTaskEnv):
    """Pick the 4 cm cube (or ``task_kwargs={"object": ...}``: a built-in object such as
    ``"mug"``, a file path or an :class:`envs.objects.ObjectSpec`) and place it into a tray.

    ## Action space
    ``Box(-1, 1, (4,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` per step, then the gripper opening: -1 closed, +1 open.

    ## Observation space
    See :class:`envs.panda_env.PandaTaskEnv`; state entries are ``PickPlaceTask.state_names``.

    ## Rewards
    ``dense``: minus the end-effector-to-object distance, minus 2 x the object's horizontal
    distance from the tray centre. ``sparse``: 0 on success, -1 otherwise.

    ## Starting state
    Tray (``tray/traybox.urdf`` at 0.4 scale, 24 cm square) at a random place; the object at
    rest at a random position and yaw (+-45 deg) clear of it; gripper open.

    ## Episode end
    Terminates when the released object rests on the tray floor, or leaves the table;
    truncates after 150 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = PickPlaceTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
