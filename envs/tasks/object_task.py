"""A task around one object resting on the table (Push, Lift): the 4 cm cube by default, or
any :class:`envs.objects.ObjectSpec` (``task_kwargs={"object": "mug"}``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.objects import CUBE, ObjectBody, ObjectSpec, resolve_object
from envs.scene import TableScene
from envs.tasks.base import ROBOT_STATE_NAMES, Task
from randomizers.placement import MAX_TRIES, blocked, disc_rect, fixture_rects
from randomizers.spaces import ParamSpec

GRASP_DEPTH = 0.035  # m: the fingers reach this far below an object's top


class ObjectTask(Task):
    """One object at rest on the table, at a random position and yaw.

    The object is the cube unless ``object`` names another (a built-in name, a file path, a
    dict of :class:`ObjectSpec` fields or a spec). Its initial-state params are ``cube.x``,
    ``cube.y``, ``cube.yaw`` for the cube and ``object.x``, ... for any other; the state
    vector's ``cube_*`` entries describe the task object whatever it is. Randomizers may
    swap in another object per episode (``target_object``, ``object_scale``): the task
    follows ``scene.roles["target"]`` after they apply.
    """

    state_names: ClassVar[tuple[str, ...]] = (
        *ROBOT_STATE_NAMES,
        "cube_x", "cube_y", "cube_z",
        "cube_qx", "cube_qy", "cube_qz", "cube_qw",
        "cube_vx", "cube_vy", "cube_vz",
        "cube_rel_ee_x", "cube_rel_ee_y", "cube_rel_ee_z",
    )  # fmt: skip

    def __init__(
        self,
        scene: TableScene,
        *,
        max_yaw: float = np.pi / 4,
        object: str | ObjectSpec | Mapping[str, Any] = "cube",
    ) -> None:
        super().__init__(scene)
        if not 0 <= max_yaw <= np.pi:
            raise ValueError(f"max_yaw must be in [0, pi] radians, got {max_yaw}")
        self.max_yaw = float(max_yaw)
        spec = resolve_object(object)
        self.key = "cube" if spec == CUBE else "object"
        name = "cube" if spec == CUBE else _free_name(scene, spec.category)
        if spec == CUBE:  # created where it rests, as it always was
            scene.add_object(name, spec, position=(0.5, 0.0, scene.table_top + CUBE.size[2]))
        else:
            ob = scene.add_object(name, spec, position=(0.5, 0.0, scene.table_top + 0.3))
            self.sim.set_pose(name, (0.5, 0.0, scene.table_top + ob.rest_z), ob.rest_orientation)
        self.nominal = name
        self._bind(name)

    # -- which body is the object -----------------------------------------------------
    def _bind(self, name: str) -> None:
        """Make body ``name`` the task object (first in ``objects``, so the target)."""
        ob: ObjectBody = self.scene.objects[name]
        self.ob = ob
        self.body_name = name
        self.cube = ob.body  # the object's body id (named for the cube it always was)
        others = {k: v for k, v in self.objects.items() if k not in self.scene.objects}
        self.objects = {name: ob.category, **others}

    @property
    def rest_z(self) -> float:
        """Height of the object's base origin when it rests on the table (at its height
        now: the table-height randomizer may move it)."""
        return self.scene.table_top + self.ob.rest_z

    @property
    def cube_rest_z(self) -> float:
        """Height of the object's base origin when it rests on the table."""
        return self.rest_z

    def after_randomization(self) -> None:
        current = self.scene.roles["target"][0] if self.scene.roles["target"] else self.nominal
        if current != self.body_name and current in self.scene.objects:
            self._bind(current)

    # -- initial state ----------------------------------------------------------------
    def cube_space(self) -> list[ParamSpec]:
        """Declared placement: x, y in the workspace's object box, yaw within max_yaw."""
        ws, k = self.scene.workspace, self.key
        return [
            ParamSpec(f"{k}.x", "continuous", ws.object_low[0], ws.object_high[0]),
            ParamSpec(f"{k}.y", "continuous", ws.object_low[1], ws.object_high[1]),
            ParamSpec(f"{k}.yaw", "continuous", -self.max_yaw, self.max_yaw),
        ]

    def sample_cube(self, rng: np.random.Generator) -> dict[str, float]:
        """A random object position (x, y) and yaw, clear of the scene's fixtures (drawn
        again from ``rng`` while it overlaps one; never without fixtures)."""
        ws, k = self.scene.workspace, self.key
        xy = rng.uniform(ws.object_low, ws.object_high)
        yaw = rng.uniform(-self.max_yaw, self.max_yaw)
        keepout = self.keepout()
        if keepout:
            radius = self.footprint_radius()
            for _ in range(MAX_TRIES):
                if not blocked(disc_rect(xy[0], xy[1], radius), keepout):
                    break
                xy = rng.uniform(ws.object_low, ws.object_high)
            else:
                raise ValueError(
                    f"no place for {self.body_name!r} in the workspace's object box "
                    f"{ws.object_low}..{ws.object_high} clear of the fixtures "
                    f"{self.scene.roles['fixtures']}; move the fixtures or the box"
                )
        return {f"{k}.x": float(xy[0]), f"{k}.y": float(xy[1]), f"{k}.yaw": float(yaw)}

    def keepout(self) -> list[tuple[float, float, float, float]]:
        """Footprints an initial placement must keep clear of: the fixtures'."""
        return fixture_rects(self.scene) if self.scene.fixtures else []

    def footprint_radius(self) -> float:
        """Radius around the object's origin that holds its footprint at any yaw."""
        half, centre = self.ob.half, self.ob.centre
        return float(np.hypot(abs(centre[0]) + half[0], abs(centre[1]) + half[1]))

    def place_cube(self, state: Mapping[str, Any]) -> np.ndarray:
        """Put the task's own object at rest at ``state``'s position and yaw (undoing any
        swap of the previous episode); returns its position."""
        if self.body_name != self.nominal:
            self._bind(self.nominal)
        roles = self.scene.roles
        if roles.get("target") and roles["target"][0] in self.scene.objects:
            roles["target"] = [self.nominal, *roles["target"][1:]]
        k = self.key
        pos = np.array([state[f"{k}.x"], state[f"{k}.y"], self.rest_z])
        orn = self.ob.orientation(self.sim.client, state[f"{k}.yaw"])
        self.sim.set_pose(self.body_name, pos, orn)
        return pos

    # -- readings ---------------------------------------------------------------------
    def _cube(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Raw (position, quaternion, linear velocity) tuples, memoized per step."""
        cached = self.sim.cache.get("cube")
        if cached is None:
            c = self.sim.client
            pos, orn = c.getBasePositionAndOrientation(self.cube)
            cached = self.sim.cache["cube"] = (pos, orn, c.getBaseVelocity(self.cube)[0])
        return cached  # type: ignore[return-value]

    def cube_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Object position (x, y, z), quaternion (x, y, z, w) and linear velocity."""
        pos, orn, vel = self._cube()
        return np.array(pos), np.array(orn), np.array(vel)

    def cube_observation(self) -> list[float]:
        """Object pose, velocity and offset from the end effector."""
        pos, orn, vel = self._cube()
        ee = self.robot.ee_position()
        return [*pos, *orn, *vel, pos[0] - ee[0], pos[1] - ee[1], pos[2] - ee[2]]

    def conditions(self, success: bool) -> dict[str, bool]:
        cond = super().conditions(success)
        pos = self._cube()[0]
        left, right = self.robot.touching(self.cube)
        grasped = left and right
        cond["grasped"] = grasped
        cond["held"] = grasped and pos[2] > self.rest_z + 0.01
        cond["object_off_table"] = not self.scene.on_table(pos)
        return cond

    def object_box(self) -> tuple[np.ndarray, np.ndarray]:
        """Centre and half extents (world axes) of the object's box in its current pose."""
        pos, orn, _ = self._cube()
        c = self.sim.client
        rest = self.ob.rest_orientation
        turn = orn
        if rest != (0.0, 0.0, 0.0, 1.0):
            inv = c.invertTransform([0, 0, 0], rest)[1]
            turn = c.multiplyTransforms([0, 0, 0], orn, [0, 0, 0], inv)[1]
        rot = np.array(c.getMatrixFromQuaternion(turn)).reshape(3, 3)
        return np.array(pos) + rot @ self.ob.centre, np.abs(rot) @ self.ob.half

    def grasp_point(self) -> np.ndarray:
        """Where a top-down grasp closes: the box's centre, raised so the fingers reach no
        deeper than ``GRASP_DEPTH`` below its top (the cube: its centre)."""
        centre, half = self.object_box()
        point = centre.copy()
        point[2] = max(centre[2], centre[2] + half[2] - GRASP_DEPTH)
        return point

    def privileged_state(self) -> dict[str, np.ndarray]:
        pos, orn, vel = self.cube_state()
        ee, ee_vel = self.robot.ee_state()
        c = self.sim.client
        turn = orn.tolist()
        rest = self.ob.rest_orientation
        if rest != (0.0, 0.0, 0.0, 1.0):
            inv = c.invertTransform([0, 0, 0], rest)[1]
            turn = list(c.multiplyTransforms([0, 0, 0], turn, [0, 0, 0], inv)[1])
        yaw = c.getEulerFromQuaternion(turn)[2]
        _, half = self.object_box()
        return {
            "ee_pos": ee,
            "ee_vel": ee_vel,
            "finger_width": np.array([self.robot.finger_width()]),
            "object_pos": pos,
            "object_quat": orn,
            "object_yaw": np.array([yaw]),
            "object_vel": vel,
            "object_extent": 2.0 * half,
            "grasp_pos": self.grasp_point(),
            "table_top": np.array([self.scene.table_top]),
        }


CubeTask = ObjectTask  # the name Push and Lift's base had before objects were configurable


def _free_name(scene: TableScene, base: str) -> str:
    """``base``, or ``base_2``, ... when a body of that name exists."""
    taken = scene.sim.bodies
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name
