"""How a robot is driven and where its model file is: control gains and motor limits,
and the file ``pybullet`` loads for a :class:`RobotConfig`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pybullet_data

from envs.robots.config import RobotConfig
from envs.visuals import PANDA as PANDA_URDF
from envs.visuals import VISUAL_DETAILS, panda_urdf


@dataclass(frozen=True)
class ControlConfig:
    """End-effector delta control: an action of 1 moves ``max_ee_delta`` metres per step.

    ``arm_force`` (one per arm joint) and ``finger_force`` (every gripper joint) override
    the robot's own motor limits; ``None`` keeps the robot config's.
    """

    max_ee_delta: float = 0.05
    arm_force: tuple[float, ...] | None = None
    finger_force: float | None = None
    ik_damping: float = 1e-4
    nullspace_gain: float = 0.5

    def __post_init__(self) -> None:
        if not self.max_ee_delta > 0:
            raise ValueError(f"ControlConfig.max_ee_delta must be > 0, got {self.max_ee_delta!r}")
        forces = self.arm_force
        if forces is not None:
            if not isinstance(forces, (tuple, list)):
                raise ValueError(
                    "ControlConfig.arm_force needs 7 values for the Panda (one per arm joint of "
                    f"the robot: 6 for the xArm6), or None for the robot's own; got {forces!r}"
                )
            if any(isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0
                   for f in forces):  # fmt: skip
                raise ValueError(f"ControlConfig.arm_force values must be > 0, got {forces!r}")
        keys = ("ik_damping",) if self.finger_force is None else ("finger_force", "ik_damping")
        for key in keys:
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"ControlConfig.{key} must be a number > 0, got {v!r}")


@dataclass(frozen=True)
class ResolvedControl(ControlConfig):
    """A :class:`ControlConfig` with the robot's motor limits filled in (``Robot.control``):
    ``finger_force`` is then the largest gripper joint force."""

    arm_force: tuple[float, ...] = ()
    finger_force: float = 1.0


def model_path(config: RobotConfig, visual_detail: str = "low") -> str:
    """The model file to load for ``config`` (the Panda's low-poly variant for ``"low"``)."""
    if visual_detail not in VISUAL_DETAILS:
        raise ValueError(
            f"unknown visual_detail {visual_detail!r}; allowed: {', '.join(VISUAL_DETAILS)}"
        )
    if config.low_poly and visual_detail == "low" and config.path == PANDA_URDF:
        return panda_urdf("low")
    path = Path(config.path)
    full = path if path.is_absolute() else Path(pybullet_data.getDataPath()) / path
    if not full.is_file():
        raise ValueError(
            f"robot {config.name!r}: model file {config.path!r} not found (give an absolute "
            f"path or one relative to pybullet_data, {pybullet_data.getDataPath()})"
        )
    return str(full) if path.is_absolute() else config.path
