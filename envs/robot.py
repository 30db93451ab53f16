"""The Franka Panda from ``pybullet_data``: end-effector delta control through IK."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from envs.sim import Simulation
from envs.visuals import panda_urdf

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11  # panda_grasptarget: the point between the fingertips
HAND_LINK = 8
FINGER_LINKS = (9, 10)
# A compact ready pose: gripper pointing down about 0.32 m above the table.
HOME_JOINTS = (0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785)
DOWN = (1.0, 0.0, 0.0, 0.0)  # quaternion (x, y, z, w): tool z axis pointing at the floor
MAX_FINGER = 0.04  # metres per finger
_ORIGIN = [0.0, 0.0, 0.0]
_ZEROS = [0.0] * 9  # velocities and accelerations for calculateJacobian (9 movable joints)


@dataclass(frozen=True)
class ControlConfig:
    """End-effector delta control: an action of 1 moves ``max_ee_delta`` metres per step."""

    max_ee_delta: float = 0.05
    arm_force: tuple[float, ...] = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
    finger_force: float = 20.0
    ik_damping: float = 1e-4
    nullspace_gain: float = 0.5

    def __post_init__(self) -> None:
        if not self.max_ee_delta > 0:
            raise ValueError(f"ControlConfig.max_ee_delta must be > 0, got {self.max_ee_delta!r}")
        if not isinstance(self.arm_force, (tuple, list)) or len(self.arm_force) != len(ARM_JOINTS):
            raise ValueError(
                f"ControlConfig.arm_force needs {len(ARM_JOINTS)} values, got {self.arm_force!r}"
            )
        for key in ("finger_force", "ik_damping"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                raise ValueError(f"ControlConfig.{key} must be a number > 0, got {v!r}")
        if any(isinstance(f, bool) or not isinstance(f, (int, float)) or not f > 0
               for f in self.arm_force):  # fmt: skip
            raise ValueError(f"ControlConfig.arm_force values must be > 0, got {self.arm_force!r}")


class Panda:
    """A fixed-base Panda whose end effector follows Cartesian targets (gripper down).

    Args:
        sim: the simulation to load into (body name ``"robot"``).
        base_position: (x, y, z) of the robot base in the world.
        ee_low, ee_high: the end-effector target is clipped into this box (metres).
        control: gains, forces and action scaling.
        visual_detail: ``"low"`` (collision meshes as visuals, fast to render) or ``"full"``.
    """

    def __init__(
        self,
        sim: Simulation,
        base_position: Sequence[float],
        ee_low: Sequence[float],
        ee_high: Sequence[float],
        control: ControlConfig | None = None,
        visual_detail: str = "low",
    ) -> None:
        self.sim = sim
        self.control = control or ControlConfig()
        self.base_position = np.asarray(base_position, dtype=np.float64)
        # plain floats: apply_action clips three numbers, far cheaper than np.clip
        self.ee_low = tuple(float(v) for v in ee_low)
        self.ee_high = tuple(float(v) for v in ee_high)
        c = sim.client
        self.urdf_path = panda_urdf(visual_detail)
        self.id = sim.load_urdf(
            "robot",
            self.urdf_path,
            base_position,
            fixed=True,
            flags=c.URDF_ENABLE_CACHED_GRAPHICS_SHAPES,
        )
        info = [c.getJointInfo(self.id, j) for j in ARM_JOINTS]
        self._lower_arr = np.array([i[8] for i in info])
        self._upper_arr = np.array([i[9] for i in info])
        self._rest_arr = np.array(HOME_JOINTS)
        self._joint_ids = list(ARM_JOINTS) + list(FINGER_JOINTS)
        self._nominal_forces = list(self.control.arm_force) + [self.control.finger_force] * 2
        self._forces = list(self._nominal_forces)
        self._force_scale = 1.0
        for link in FINGER_LINKS:
            c.changeDynamics(self.id, link, lateralFriction=1.0, spinningFriction=0.001)
        self.gripper_target = MAX_FINGER * 2
        self.reset()

    @property
    def force_scale(self) -> float:
        """Multiplier on the nominal motor force limits (a physics randomizer sets it)."""
        return self._force_scale

    @force_scale.setter
    def force_scale(self, value: float) -> None:
        if not value > 0:
            raise ValueError(f"force_scale must be > 0, got {value}")
        self._force_scale = float(value)
        self._forces = [f * self._force_scale for f in self._nominal_forces]

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

    def apply_action(self, ee_delta: Sequence[float], finger_width: float | None = None) -> None:
        """Set motor targets: move the end effector by ``ee_delta`` (in [-1, 1], scaled).

        One damped-least-squares step of differential IK from the current joint angles
        (position and the fixed gripper-down orientation), with a null-space pull toward
        the home pose; the step is re-planned from the measured state every env step.
        ``finger_width`` is the commanded opening in metres (``None`` keeps the last one).
        """
        pos, _, (x, y, z, w) = self._ee_pose()
        lo, hi = self.ee_low, self.ee_high
        d = self.control.max_ee_delta
        err = [min(max(pos[i] + float(ee_delta[i]) * d, lo[i]), hi[i]) - pos[i] for i in range(3)]
        # rotation error of q_down * conj(q): q_down = (1, 0, 0, 0) in (x, y, z, w)
        ex, ey, ez, ew = w, z, -y, x
        k = 2.0 if ew >= 0 else -2.0
        err += [k * ex, k * ey, k * ez]
        q = self._joint_angles()
        lin, ang = self.sim.client.calculateJacobian(self.id, EE_LINK, _ORIGIN, q, _ZEROS, _ZEROS)
        jac = np.array((*lin, *ang))[:, :7]
        qa = np.array(q[:7])
        null = (self._rest_arr - qa) * self.control.nullspace_gain
        a = jac @ jac.T
        a.flat[::7] += self.control.ik_damping
        dq = jac.T @ np.linalg.solve(a, np.array(err) - jac @ null) + null
        target = np.minimum(np.maximum(qa + dq, self._lower_arr), self._upper_arr)
        if finger_width is not None:
            self.gripper_target = min(max(float(finger_width), 0.0), 2 * MAX_FINGER)
        self._command(target.tolist(), self.gripper_target / 2)

    # -- readings ---------------------------------------------------------------
    def _ee_pose(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Raw (position, linear velocity, quaternion) tuples, memoized until the world changes."""
        cached = self.sim.cache.get("ee")
        if cached is None:
            s = self.sim.client.getLinkState(
                self.id, EE_LINK, computeLinkVelocity=1, computeForwardKinematics=1
            )
            cached = self.sim.cache["ee"] = (s[4], s[6], s[5])
        return cached  # type: ignore[return-value]

    def ee_position(self) -> tuple[float, float, float]:
        """End-effector position (x, y, z) as plain floats (the cheap accessor)."""
        return self._ee_pose()[0]  # type: ignore[return-value]

    def ee_state(self) -> tuple[np.ndarray, np.ndarray]:
        """End-effector position (x, y, z) and linear velocity (vx, vy, vz) in the world."""
        pos, vel, _ = self._ee_pose()
        return np.array(pos), np.array(vel)

    def _joint_angles(self) -> list[float]:
        cached = self.sim.cache.get("q")
        if cached is None:
            states = self.sim.client.getJointStates(self.id, self._joint_ids)
            cached = self.sim.cache["q"] = [st[0] for st in states]
        return cached  # type: ignore[return-value]

    def finger_width(self) -> float:
        """Distance between the fingers in metres."""
        q = self._joint_angles()
        return q[7] + q[8]

    def joint_positions(self) -> np.ndarray:
        """Arm joint angles (7) followed by the two finger positions."""
        return np.array(self._joint_angles())

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
