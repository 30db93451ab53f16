"""Robots as configuration: the shipped configs by name, and the lookup ``gym.make`` uses."""

from __future__ import annotations

from envs.robots.config import LINK_ROLES, GripperJoint, RobotConfig
from envs.robots.kuka import KUKA
from envs.robots.panda import PANDA
from envs.robots.xarm6 import XARM6

ROBOTS: dict[str, RobotConfig] = {"panda": PANDA, "xarm6": XARM6, "kuka": KUKA}


def resolve_robot(robot: str | RobotConfig | None) -> RobotConfig:
    """The config for ``robot``: a shipped name (``panda``, ``xarm6``, ``kuka``), a
    :class:`RobotConfig`, or ``None`` for the Panda."""
    if robot is None:
        return PANDA
    if isinstance(robot, RobotConfig):
        return robot
    if isinstance(robot, str) and robot in ROBOTS:
        return ROBOTS[robot]
    raise ValueError(
        f"unknown robot {robot!r}; known robots: {', '.join(ROBOTS)} "
        "(or pass an envs.robots.RobotConfig)"
    )


__all__ = ["KUKA", "LINK_ROLES", "PANDA", "ROBOTS", "XARM6", "GripperJoint", "RobotConfig",
           "resolve_robot"]  # fmt: skip
