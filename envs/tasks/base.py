"""The task protocol and the cube helpers shared by Push and Lift."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.scene import TableScene
from randomizers.spaces import ParamSpec

ROBOT_STATE_NAMES = ("ee_x", "ee_y", "ee_z", "ee_vx", "ee_vy", "ee_vz", "finger_width")
REWARD_TYPES = ("dense", "sparse")


class Task(ABC):
    """What the robot must do in a :class:`TableScene`.

    A task creates its bodies once in ``__init__`` and only moves them at reset. Its initial
    state is data, like randomization params: :meth:`sample_state` draws it (pure),
    :meth:`apply_state` places the bodies, and :meth:`state_space` declares its names and
    bounds, so the env records it in ``info["randomization"]["task"]`` and replays it
    whatever the seed. ``objects`` maps each body name it owns to its category (for labels).
    """

    name: ClassVar[str]
    default_max_episode_steps: ClassVar[int]
    uses_gripper: ClassVar[bool]
    state_names: ClassVar[tuple[str, ...]]

    def __init__(self, scene: TableScene) -> None:
        self.scene = scene
        self.sim = scene.sim
        self.robot = scene.robot
        self.objects: dict[str, str] = {}

    _goal: tuple[float, ...] = (0.0, 0.0, 0.0)

    @property
    def goal(self) -> np.ndarray:
        """Goal position (x, y, z): the Reach target, the Push disc centre."""
        return np.array(self._goal)

    @goal.setter
    def goal(self, value: np.ndarray) -> None:
        # kept as plain floats: the per-step reward reads it without NumPy overhead
        self._goal = tuple(float(v) for v in value)

    @abstractmethod
    def state_space(self) -> list[ParamSpec]:
        """The initial state's declared params (flat names such as ``cube.x``, bounds)."""

    @abstractmethod
    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw an initial state (plain JSON data) without touching the simulation."""

    @abstractmethod
    def apply_state(self, state: Mapping[str, Any]) -> None:
        """Place objects and goal at ``state`` (bodies at rest, no physics stepped)."""

    def reset(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw and apply a new initial state; returns it."""
        state = self.sample_state(rng)
        self.apply_state(state)
        return state

    @abstractmethod
    def observation(self) -> list[float]:
        """Task part of the state vector (plain floats), matching ``state_names``."""

    @abstractmethod
    def is_success(self) -> bool:
        """Whether the task is solved in the current state."""

    @abstractmethod
    def dense_reward(self) -> float:
        """Shaped reward (higher is better, 0 at best)."""

    @abstractmethod
    def privileged_state(self) -> dict[str, np.ndarray]:
        """Exact object and goal state, for scripted experts and labels."""

    def after_randomization(self) -> None:  # noqa: B027 - optional hook
        """Re-read anything randomizers may have moved (called after they apply)."""

    def conditions(self, success: bool) -> dict[str, bool]:
        """Per-step conditions that :class:`envs.events.EventTracker` turns into events."""
        table = self.sim.body("table")
        return {
            "success": success,
            "robot_table_collision": self.robot.collides_with(table),
        }

    def reward(self, reward_type: str, success: bool) -> float:
        """``dense``: the shaped reward; ``sparse``: 0 on success, -1 otherwise."""
        if reward_type == "sparse":
            return 0.0 if success else -1.0
        return self.dense_reward()

    def target_body(self) -> str:
        """Name of the object a perception model should localise."""
        return next(iter(self.objects))


class CubeTask(Task):
    """A task around one cube resting on the table (Push, Lift)."""

    cube_half: ClassVar[float] = 0.02
    cube_mass: ClassVar[float] = 0.1
    state_names: ClassVar[tuple[str, ...]] = (
        *ROBOT_STATE_NAMES,
        "cube_x", "cube_y", "cube_z",
        "cube_qx", "cube_qy", "cube_qz", "cube_qw",
        "cube_vx", "cube_vy", "cube_vz",
        "cube_rel_ee_x", "cube_rel_ee_y", "cube_rel_ee_z",
    )  # fmt: skip

    def __init__(self, scene: TableScene, *, max_yaw: float = np.pi / 4) -> None:
        super().__init__(scene)
        if not 0 <= max_yaw <= np.pi:
            raise ValueError(f"max_yaw must be in [0, pi] radians, got {max_yaw}")
        self.max_yaw = float(max_yaw)
        h = self.cube_half
        self.cube_rest_z = scene.table_top + h
        self.sim.create_primitive(
            "cube", "box", (h, h, h), mass=self.cube_mass,
            position=(0.5, 0.0, self.cube_rest_z), rgba=(0.85, 0.15, 0.1, 1.0),
        )  # fmt: skip
        self.cube = self.sim.body("cube")
        self.sim.client.changeDynamics(
            self.cube, -1, lateralFriction=1.0, spinningFriction=0.001, rollingFriction=0.0001
        )
        self.objects["cube"] = "cube"

    def cube_space(self) -> list[ParamSpec]:
        """Declared cube placement: x, y in the workspace's object box, yaw within max_yaw."""
        ws = self.scene.workspace
        return [
            ParamSpec("cube.x", "continuous", ws.object_low[0], ws.object_high[0]),
            ParamSpec("cube.y", "continuous", ws.object_low[1], ws.object_high[1]),
            ParamSpec("cube.yaw", "continuous", -self.max_yaw, self.max_yaw),
        ]

    def sample_cube(self, rng: np.random.Generator) -> dict[str, float]:
        """A random cube position (x, y) and yaw."""
        ws = self.scene.workspace
        xy = rng.uniform(ws.object_low, ws.object_high)
        yaw = rng.uniform(-self.max_yaw, self.max_yaw)
        return {"cube.x": float(xy[0]), "cube.y": float(xy[1]), "cube.yaw": float(yaw)}

    def place_cube(self, state: Mapping[str, Any]) -> np.ndarray:
        """Put the cube at rest at ``state``'s position and yaw; returns its position."""
        pos = np.array([state["cube.x"], state["cube.y"], self.cube_rest_z])
        orn = self.sim.client.getQuaternionFromEuler([0.0, 0.0, state["cube.yaw"]])
        self.sim.set_pose("cube", pos, orn)
        return pos

    def _cube(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Raw (position, quaternion, linear velocity) tuples, memoized per step."""
        cached = self.sim.cache.get("cube")
        if cached is None:
            c = self.sim.client
            pos, orn = c.getBasePositionAndOrientation(self.cube)
            cached = self.sim.cache["cube"] = (pos, orn, c.getBaseVelocity(self.cube)[0])
        return cached  # type: ignore[return-value]

    def cube_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cube position (x, y, z), quaternion (x, y, z, w) and linear velocity."""
        pos, orn, vel = self._cube()
        return np.array(pos), np.array(orn), np.array(vel)

    def cube_observation(self) -> list[float]:
        """Cube pose, velocity and offset from the end effector."""
        pos, orn, vel = self._cube()
        ee = self.robot.ee_position()
        return [*pos, *orn, *vel, pos[0] - ee[0], pos[1] - ee[1], pos[2] - ee[2]]

    def conditions(self, success: bool) -> dict[str, bool]:
        cond = super().conditions(success)
        pos = self._cube()[0]
        left, right = self.robot.touching(self.cube)
        grasped = left and right
        cond["grasped"] = grasped
        cond["held"] = grasped and pos[2] > self.cube_rest_z + 0.01
        cond["object_off_table"] = not self.scene.on_table(pos)
        return cond

    def privileged_state(self) -> dict[str, np.ndarray]:
        pos, orn, vel = self.cube_state()
        ee, ee_vel = self.robot.ee_state()
        yaw = self.sim.client.getEulerFromQuaternion(orn.tolist())[2]
        return {
            "ee_pos": ee,
            "ee_vel": ee_vel,
            "finger_width": np.array([self.robot.finger_width()]),
            "object_pos": pos,
            "object_quat": orn,
            "object_yaw": np.array([yaw]),
            "object_vel": vel,
        }
