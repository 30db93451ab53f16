"""What a randomizer may touch in a scene, as typing protocols.

Randomizers never import the environments; they see a scene through :class:`Scene`, the
few attributes they read and write (the PyBullet client, bodies by name and role, the
robot and its links by role, the camera, per-step effects and a per-scene ``store``). The environments' scene
class satisfies it structurally, and mypy checks every ``setup`` and ``apply`` against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np


class CameraView(Protocol):
    """The nominal camera pose and optics a camera randomizer perturbs (a frozen dataclass
    in the env, rebuilt with :func:`dataclasses.replace`)."""

    @property
    def eye(self) -> Sequence[float]: ...

    @property
    def target(self) -> Sequence[float]: ...

    @property
    def up(self) -> Sequence[float]: ...

    @property
    def roll(self) -> float: ...

    @property
    def fov(self) -> float: ...


class Gravity(Protocol):
    """The simulation's nominal physics settings."""

    @property
    def gravity(self) -> Sequence[float]: ...


class SceneSimulation(Protocol):
    """Bodies by name in the scene's one physics client."""

    @property
    def physics(self) -> Gravity: ...

    @property
    def cache(self) -> dict[object, object]:
        """Memoized readings; cleared after bodies are moved behind the simulation's back."""

    def body(self, name: str) -> int:
        """PyBullet unique id of the body called ``name``."""

    def _add(self, name: str, body: int) -> int:
        """Name a body loaded directly through the client (distractor URDFs)."""

    def create_primitive(
        self, name: str, shape: str, size: Sequence[float], *, mass: float,
        position: Sequence[float], collision: bool = True,
    ) -> int:  # fmt: skip
        """Create and name a box, sphere or cylinder."""

    def pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Position (x, y, z) and quaternion (x, y, z, w) of a body's base."""

    def set_pose(
        self, name: str, position: Sequence[float], orientation: Sequence[float] = (0, 0, 0, 1)
    ) -> None:
        """Teleport a body and zero its velocity."""


class SceneRobot(Protocol):
    """The robot's body id, motor strength and links by role."""

    @property
    def id(self) -> int: ...

    force_scale: float

    @property
    def link_roles(self) -> Mapping[str, Sequence[int]]:
        """PyBullet link indices by role: ``base``, ``arm``, ``hand``, ``fingers`` (the
        contact surfaces), from the robot's config, never hard-coded in a randomizer."""

    @property
    def visual_links(self) -> Sequence[int]:
        """Every link of every role, sorted: what a texture randomizer paints."""


class Effects(Protocol):
    """Per-step settings randomizers write and the env reads."""

    action_latency: int
    action_noise: float
    observation_noise: float
    image_filter: Callable[[np.ndarray, int], np.ndarray] | None
    light: dict[str, Any]


class Scene(Protocol):
    """A scene as randomizers see it."""

    @property
    def client(self) -> Any:
        """The scene's ``BulletClient`` (PyBullet's functions bound to one physics server)."""

    @property
    def sim(self) -> SceneSimulation: ...

    @property
    def robot(self) -> SceneRobot: ...

    @property
    def effects(self) -> Effects: ...

    @property
    def store(self) -> dict[str, Any]:
        """Per-scene state of randomizers (pools, texture ids, nominal values), by key."""

    @property
    def roles(self) -> dict[str, list[str]]:
        """Body names by role (``table``, ``floor``, ``target``, ``distractors``, ...)."""

    @property
    def table_top(self) -> float: ...

    @property
    def camera_config(self) -> CameraView: ...

    def body_names(self, role: str) -> list[str]:
        """Names of the bodies that play ``role``."""

    def set_camera(self, config: Any) -> None:
        """Move every camera to ``config`` (a ``replace``-d copy of :attr:`camera_config`)."""


__all__ = ["CameraView", "Effects", "Gravity", "Scene", "SceneRobot", "SceneSimulation"]
