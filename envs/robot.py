"""The Franka Panda from ``pybullet_data``: end-effector delta control through IK."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.sim import Simulation

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11  # panda_grasptarget: the point between the fingertips
HAND_LINK = 8
FINGER_LINKS = (9, 10)
# A compact ready pose: gripper pointing down about 0.32 m above the table.
HOME_JOINTS = (0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785)
DOWN = (1.0, 0.0, 0.0, 0.0)  # quaternion (x, y, z, w): tool z axis pointing at the floor
MAX_FINGER = 0.04  # metres per finger


@dataclass(frozen=True)
class ControlConfig:
    """End-effector delta control: an action of 1 moves ``max_ee_delta`` metres per step."""

    max_ee_delta: float = 0.05
    arm_force: tuple[float, ...] = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
    finger_force: float = 20.0
    ik_iterations: int = 8
    ik_threshold: float = 1e-4

    def __post_init__(self) -> None:
        if not self.max_ee_delta > 0:
            raise ValueError(f"ControlConfig.max_ee_delta must be > 0, got {self.max_ee_delta!r}")
        if len(self.arm_force) != len(ARM_JOINTS):
            raise ValueError(
                f"ControlConfig.arm_force needs {len(ARM_JOINTS)} values, got {len(self.arm_force)}"
            )


class Panda:
    """A fixed-base Panda whose end effector follows Cartesian targets (gripper down).

    Args:
        sim: the simulation to load into (body name ``"robot"``).
        base_position: (x, y, z) of the robot base in the world.
        ee_low, ee_high: the end-effector target is clipped into this box (metres).
        control: gains, forces and action scaling.
    """

    def __init__(
        self,
        sim: Simulation,
        base_position: Sequence[float],
        ee_low: Sequence[float],
        ee_high: Sequence[float],
        control: ControlConfig | None = None,
    ) -> None:
        self.sim = sim
        self.control = control or ControlConfig()
        self.base_position = np.asarray(base_position, dtype=np.float64)
        self.ee_low = np.asarray(ee_low, dtype=np.float64)
        self.ee_high = np.asarray(ee_high, dtype=np.float64)
        self._ee_bounds = (tuple(map(float, ee_low)), tuple(map(float, ee_high)))
        c = sim.client
        self.id = sim.load_urdf(
            "robot",
            "franka_panda/panda.urdf",
            base_position,
            fixed=True,
            flags=c.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
        )
        info = [c.getJointInfo(self.id, j) for j in ARM_JOINTS]
        self._lower = [i[8] for i in info]
        self._upper = [i[9] for i in info]
        self._ranges = [u - lo for lo, u in zip(self._lower, self._upper, strict=True)]
        self._rest = list(HOME_JOINTS)
        self._joint_ids = list(ARM_JOINTS) + list(FINGER_JOINTS)
        self._forces = list(self.control.arm_force) + [self.control.finger_force] * 2
        for link in FINGER_LINKS:
            c.changeDynamics(self.id, link, lateralFriction=1.0, spinningFriction=0.001)
        self.gripper_target = MAX_FINGER * 2
        self.reset()

    def reset(self, finger_width: float = 2 * MAX_FINGER) -> None:
        """Put the arm at the home pose, at rest, with the given finger opening."""
        c = self.sim.client
        self.sim.cache.clear()
        for j, q in zip(ARM_JOINTS, HOME_JOINTS, strict=True):
            c.resetJointState(self.id, j, q, 0.0)
        half = float(np.clip(finger_width / 2, 0.0, MAX_FINGER))
        for j in FINGER_JOINTS:
            c.resetJointState(self.id, j, half, 0.0)
        self.gripper_target = 2 * half
        self._command(list(HOME_JOINTS), half)

    def _command(self, arm: Sequence[float], half_width: float) -> None:
        c = self.sim.client
        self.last_command = [*arm, half_width, half_width]
        c.setJointMotorControlArray(
            self.id,
            self._joint_ids,
            c.POSITION_CONTROL,
            targetPositions=self.last_command,
            forces=self._forces,
        )

    def apply_action(self, ee_delta: np.ndarray, finger_width: float | None = None) -> None:
        """Set motor targets: move the end effector by ``ee_delta`` (in [-1, 1], scaled).

        ``finger_width`` is the commanded opening in metres (``None`` keeps the last one).
        """
        pos, _ = self.ee_state()
        target = (pos + ee_delta * self.control.max_ee_delta).tolist()
        lo, hi = self._ee_bounds
        for i in range(3):  # plain floats: far cheaper than np.clip on 3 numbers
            target[i] = min(max(target[i], lo[i]), hi[i])
        q = self.sim.client.calculateInverseKinematics(
            self.id,
            EE_LINK,
            target,
            DOWN,
            lowerLimits=self._lower,
            upperLimits=self._upper,
            jointRanges=self._ranges,
            restPoses=self._rest,
            maxNumIterations=self.control.ik_iterations,
            residualThreshold=self.control.ik_threshold,
        )
        if finger_width is not None:
            self.gripper_target = float(np.clip(finger_width, 0.0, 2 * MAX_FINGER))
        self._command(q[:7], self.gripper_target / 2)

    # -- readings ---------------------------------------------------------------
    def ee_state(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position (x, y, z) and linear velocity (vx, vy, vz) in the world."""
        cached = self.sim.cache.get("ee")
        if cached is None:
            s = self.sim.client.getLinkState(
                self.id, EE_LINK, computeLinkVelocity=1, computeForwardKinematics=1
            )
            cached = self.sim.cache["ee"] = (np.asarray(s[4]), np.asarray(s[6]))
        return cached  # type: ignore[return-value]

    def finger_width(self) -> float:
        """Distance between the fingers in metres."""
        cached = self.sim.cache.get("width")
        if cached is None:
            s = self.sim.client.getJointStates(self.id, FINGER_JOINTS)
            cached = self.sim.cache["width"] = float(s[0][0] + s[1][0])
        return cached  # type: ignore[return-value]

    def joint_positions(self) -> np.ndarray:
        """Arm joint angles (7) followed by the two finger positions."""
        s = self.sim.client.getJointStates(self.id, self._joint_ids)
        return np.array([x[0] for x in s])

    def touching(self, body: int) -> tuple[bool, bool]:
        """Whether the left and right finger are in contact with ``body``."""
        key = ("touch", body)
        cached = self.sim.cache.get(key)
        if cached is None:
            links = {pt[3] for pt in self.sim.client.getContactPoints(self.id, body)}
            cached = self.sim.cache[key] = (FINGER_LINKS[0] in links, FINGER_LINKS[1] in links)
        return cached  # type: ignore[return-value]

    def collides_with(self, body: int, ignore_links: Sequence[int] = (-1, 0)) -> bool:
        """Whether any robot link other than ``ignore_links`` touches ``body``."""
        for pt in self.sim.client.getContactPoints(self.id, body):
            if pt[3] not in ignore_links:
                return True
        return False
