"""The task protocol (objects on the table: :mod:`envs.tasks.object_task`)."""

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
