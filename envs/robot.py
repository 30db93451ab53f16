"""A fixed-base arm with a parallel gripper, built from a :class:`RobotConfig`:
end-effector delta control through differential IK, readings by link and joint name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from envs.robots.config import RobotConfig
from envs.robots.control import ControlConfig, ResolvedControl, model_path
from envs.sim import Simulation

_ORIGIN = [0.0, 0.0, 0.0]
_JOINT_FIXED = 4  # PyBullet's p.JOINT_FIXED


class Robot:
    """A robot whose tool centre point (TCP) follows Cartesian targets, gripper down.

    Args:
        sim: the simulation to load into (body name ``"robot"``).
        config: the robot (model, joints, links, gripper, home pose).
        base_position: (x, y, z) of the robot base in the world.
        ee_low, ee_high: the TCP target is clipped into this box (metres).
        control: gains, forces and action scaling.
        visual_detail: ``"low"`` (the Panda's collision meshes as visuals, fast to render)
            or ``"full"``; other robots load their stock meshes either way.
    """

    def __init__(
        self,
        sim: Simulation,
        config: RobotConfig,
        base_position: Sequence[float],
        ee_low: Sequence[float],
        ee_high: Sequence[float],
        control: ControlConfig | None = None,
        visual_detail: str = "low",
    ) -> None:
        self.sim = sim
        self.config = config
        control = control or ControlConfig()
        self._finger_force = control.finger_force  # None: each gripper joint's own
        n_arm = len(config.arm_joints)
        if control.arm_force is not None and len(control.arm_force) != n_arm:
            raise ValueError(
                f"ControlConfig.arm_force needs {n_arm} values for robot {config.name!r} (one "
                f"per arm joint: {', '.join(config.arm_joints)}), got {control.arm_force!r}"
            )
        self.control = ResolvedControl(
            **{
                **asdict(control),
                "arm_force": tuple(control.arm_force or config.arm_force),
                "finger_force": control.finger_force or max(g.force for g in config.gripper_joints),
            }
        )
        self.base_position = np.asarray(base_position, dtype=np.float64)
        # plain floats: apply_action clips three numbers, far cheaper than np.clip
        self.ee_low = tuple(float(v) for v in ee_low)
        self.ee_high = tuple(float(v) for v in ee_high)
        self.urdf_path = model_path(config, visual_detail)
        self.id = self._load(base_position)
        self._resolve_names()
        self._setup_control()
        self.reset()

    # -- construction -----------------------------------------------------------
    def _load(self, base_position: Sequence[float]) -> int:
        c = self.sim.client
        try:
            if self.urdf_path.endswith(".sdf"):
                bodies = c.loadSDF(self.urdf_path)
            else:
                flags = c.URDF_ENABLE_CACHED_GRAPHICS_SHAPES
                body = c.loadURDF(self.urdf_path, list(base_position), [0.0, 0.0, 0.0, 1.0],
                                  useFixedBase=True, flags=flags)  # fmt: skip
                return self.sim._add("robot", body)
        except Exception as exc:  # pybullet.error says only "Cannot load ... file"
            raise ValueError(
                f"robot {self.config.name!r}: PyBullet cannot load {self.urdf_path!r} ({exc})"
            ) from exc
        if len(bodies) != 1:
            for b in bodies:
                c.removeBody(b)
            raise ValueError(
                f"robot {self.config.name!r}: {self.urdf_path!r} holds {len(bodies)} models; "
                "a robot SDF must hold exactly one"
            )
        body = bodies[0]
        c.resetBasePositionAndOrientation(body, list(base_position), [0.0, 0.0, 0.0, 1.0])
        c.changeDynamics(body, -1, mass=0.0)  # SDF has no fixed-base flag: a static base
        return self.sim._add("robot", body)

    def _resolve_names(self) -> None:
        c, cfg = self.sim.client, self.config
        infos = [c.getJointInfo(self.id, j) for j in range(c.getNumJoints(self.id))]
        self.joint_names: dict[str, int] = {i[1].decode(): i[0] for i in infos}
        self.link_names: dict[str, int] = {c.getBodyInfo(self.id)[0].decode(): -1}
        self.link_names.update({i[12].decode(): i[0] for i in infos})
        self._movable = [i[0] for i in infos if i[2] != _JOINT_FIXED]
        arm = [self.joint(n) for n in cfg.arm_joints]
        grip = [self.joint(g.name) for g in cfg.gripper_joints]
        fixed = [n for n, j in zip((*cfg.arm_joints, *(g.name for g in cfg.gripper_joints)),
                                   arm + grip, strict=True) if j not in self._movable]  # fmt: skip
        if fixed:
            raise ValueError(
                f"robot {cfg.name!r}: joints {fixed} are fixed in {self.urdf_path!r} and cannot "
                f"be driven; its movable joints: {', '.join(self._joint_name(j) for j in self._movable)}"
            )
        self.ee_link = self.link(cfg.ee_link)
        self.link_roles: dict[str, list[int]] = {
            role: [self.link(n) for n in names] for role, names in cfg.link_roles.items()
        }
        self._arm, self._grip = arm, grip
        lower = [infos[j][8] for j in arm]
        upper = [infos[j][9] for j in arm]
        # a joint without limits (lower > upper in PyBullet) is not clipped
        self._lower_arr = np.array(
            [lo if lo <= hi else -np.inf for lo, hi in zip(lower, upper, strict=True)]
        )
        self._upper_arr = np.array(
            [hi if lo <= hi else np.inf for lo, hi in zip(lower, upper, strict=True)]
        )

    def _joint_name(self, index: int) -> str:
        return next(n for n, j in self.joint_names.items() if j == index)

    def joint(self, name: str) -> int:
        """PyBullet index of the joint called ``name``; an unknown name lists the real ones."""
        try:
            return self.joint_names[name]
        except KeyError:
            raise ValueError(
                f"robot {self.config.name!r}: no joint named {name!r} in {self.config.path!r}; "
                f"its joints: {', '.join(self.joint_names)}"
            ) from None

    def link(self, name: str) -> int:
        """PyBullet index of the link called ``name`` (-1: the base); an unknown name lists
        the real ones."""
        try:
            return self.link_names[name]
        except KeyError:
            raise ValueError(
                f"robot {self.config.name!r}: no link named {name!r} in {self.config.path!r}; "
                f"its links: {', '.join(self.link_names)}"
            ) from None

    def _setup_control(self) -> None:
        c, cfg = self.sim.client, self.config
        self._rest_arr = np.array(cfg.home)
        self._joint_ids = self._arm + self._grip
        # columns of the arm joints among the movable ones (Jacobian and joint readings)
        cols = [self._movable.index(j) for j in self._arm]
        self._arm_prefix = len(cols) if cols == list(range(len(cols))) else None
        self._arm_cols = cols
        self._zeros = [0.0] * len(self._movable)
        grip_forces = [g.force if self._finger_force is None else self._finger_force
                       for g in cfg.gripper_joints]  # fmt: skip
        self._nominal_forces = list(self.control.arm_force) + grip_forces
        self._forces = list(self._nominal_forces)
        self._force_scale = 1.0
        w = cfg.max_width
        self._grip_map = [(g.closed, (g.open - g.closed) / w) for g in cfg.gripper_joints]
        grip_cols = [self._movable.index(j) for j in self._grip]
        # joints that move with the opening give the width back: (column, closed, m per unit)
        self._width_from = [
            (col, g.closed, w / (g.open - g.closed))
            for col, g in zip(grip_cols, cfg.gripper_joints, strict=True)
            if g.open != g.closed and g.measure
        ]
        self._fingers = self.link_roles["fingers"]
        half = len(self._fingers) // 2
        self._left, self._right = self._fingers[:half], self._fingers[half:]
        self._base_links = tuple(self.link_roles["base"])
        for link in self._fingers:
            c.changeDynamics(self.id, link, lateralFriction=1.0, spinningFriction=0.001)
        self._setup_tool()
        self.gripper_target = cfg.max_width

    def _setup_tool(self) -> None:
        """The TCP as an offset from the EE link, in the link frame and in its inertial frame
        (where ``calculateJacobian`` takes its point)."""
        c, cfg = self.sim.client, self.config
        self._offset = list(cfg.tool_offset) if any(cfg.tool_offset) else None
        s = c.getLinkState(self.id, self.ee_link)
        inertial_pos, inertial_orn = s[2], s[3]
        if self._offset is None and not any(inertial_pos):
            self._jac_point = _ORIGIN
        else:
            rot = np.array(c.getMatrixFromQuaternion(inertial_orn)).reshape(3, 3)
            point = rot.T @ (np.array(cfg.tool_offset) - np.array(inertial_pos))
            self._jac_point = [float(v) for v in point]
        qx, qy, qz, qw = cfg.ee_orientation
        self._down = None if (qx, qy, qz, qw) == (1.0, 0.0, 0.0, 0.0) else (qx, qy, qz, qw)

    # -- properties -------------------------------------------------------------
    @property
    def max_width(self) -> float:
        """Finger opening when fully open (metres)."""
        return self.config.max_width

    @property
    def max_finger(self) -> float:
        """Half the full opening: a gripper action ``a`` in [-1, 1] opens to ``(a + 1) * max_finger``."""
        return self.config.max_finger

    @property
    def visual_links(self) -> list[int]:
        """Link indices of every role, sorted (what the texture randomizer paints)."""
        return sorted({link for links in self.link_roles.values() for link in links})

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

    # -- control ----------------------------------------------------------------
    def reset(self, finger_width: float | None = None) -> None:
        """Put the arm at the home pose, at rest, with the given finger opening (default:
        fully open)."""
        c = self.sim.client
        self.sim.cache.clear()
        for j, q in zip(self._arm, self.config.home, strict=True):
            c.resetJointState(self.id, j, q, 0.0)
        width = self.max_width if finger_width is None else finger_width
        width = min(max(float(width), 0.0), self.max_width)
        for j, q in zip(self._grip, self._grip_targets(width), strict=True):
            c.resetJointState(self.id, j, q, 0.0)
        self.gripper_target = width
        self._command(list(self.config.home), width)

    def _grip_targets(self, width: float) -> list[float]:
        return [closed + slope * width for closed, slope in self._grip_map]

    def _command(self, arm: Sequence[float], width: float) -> None:
        c = self.sim.client
        self.last_command = [*arm, *self._grip_targets(width)]
        c.setJointMotorControlArray(
            self.id,
            self._joint_ids,
            c.POSITION_CONTROL,
            targetPositions=self.last_command,
            forces=self._forces,
        )

    def apply_action(self, ee_delta: Sequence[float], finger_width: float | None = None) -> None:
        """Set motor targets: move the TCP by ``ee_delta`` (in [-1, 1], scaled).

        One damped-least-squares step of differential IK from the current joint angles
        (position and the fixed gripper-down orientation), with a null-space pull toward
        the home pose; the step is re-planned from the measured state every env step.
        ``finger_width`` is the commanded opening in metres (``None`` keeps the last one).
        """
        pos, _, (x, y, z, w) = self._ee_pose()
        lo, hi = self.ee_low, self.ee_high
        d = self.control.max_ee_delta
        err = [min(max(pos[i] + float(ee_delta[i]) * d, lo[i]), hi[i]) - pos[i] for i in range(3)]
        if self._down is None:  # q_down * conj(q) with q_down = (1, 0, 0, 0) in (x, y, z, w)
            ex, ey, ez, ew = w, z, -y, x
        else:
            ax, ay, az, aw = self._down
            ex = -aw * x + ax * w - ay * z + az * y
            ey = -aw * y + ax * z + ay * w - az * x
            ez = -aw * z - ax * y + ay * x + az * w
            ew = aw * w + ax * x + ay * y + az * z
        k = 2.0 if ew >= 0 else -2.0
        err += [k * ex, k * ey, k * ez]
        q = self._joint_angles()
        lin, ang = self.sim.client.calculateJacobian(
            self.id, self.ee_link, self._jac_point, q, self._zeros, self._zeros
        )
        n = self._arm_prefix
        if n is not None:
            jac = np.array((*lin, *ang))[:, :n]
            qa = np.array(q[:n])
        else:
            jac = np.array((*lin, *ang))[:, self._arm_cols]
            qa = np.array([q[i] for i in self._arm_cols])
        null = (self._rest_arr - qa) * self.control.nullspace_gain
        a = jac @ jac.T
        a.flat[::7] += self.control.ik_damping
        dq = jac.T @ np.linalg.solve(a, np.array(err) - jac @ null) + null
        target = np.minimum(np.maximum(qa + dq, self._lower_arr), self._upper_arr)
        if finger_width is not None:
            self.gripper_target = min(max(float(finger_width), 0.0), self.max_width)
        self._command(target.tolist(), self.gripper_target)

    # -- readings ---------------------------------------------------------------
    def _ee_pose(self) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...]]:
        """Raw TCP (position, linear velocity, quaternion) tuples, memoized until the world
        changes."""
        cached = self.sim.cache.get("ee")
        if cached is None:
            c = self.sim.client
            s = c.getLinkState(self.id, self.ee_link, computeLinkVelocity=1,
                               computeForwardKinematics=1)  # fmt: skip
            if self._offset is None:
                cached = (s[4], s[6], s[5])
            else:
                pos = c.multiplyTransforms(s[4], s[5], self._offset, (0.0, 0.0, 0.0, 1.0))[0]
                (vx, vy, vz), (wx, wy, wz) = s[6], s[7]
                rx, ry, rz = pos[0] - s[0][0], pos[1] - s[0][1], pos[2] - s[0][2]
                vel = (vx + wy * rz - wz * ry, vy + wz * rx - wx * rz, vz + wx * ry - wy * rx)
                cached = (tuple(pos), vel, s[5])
            self.sim.cache["ee"] = cached
        return cached  # type: ignore[return-value]

    def ee_position(self) -> tuple[float, float, float]:
        """TCP position (x, y, z) as plain floats (the cheap accessor)."""
        return self._ee_pose()[0]  # type: ignore[return-value]

    def ee_state(self) -> tuple[np.ndarray, np.ndarray]:
        """TCP position (x, y, z) and linear velocity (vx, vy, vz) in the world."""
        pos, vel, _ = self._ee_pose()
        return np.array(pos), np.array(vel)

    def ee_orientation(self) -> np.ndarray:
        """Quaternion (x, y, z, w) of the EE link."""
        return np.array(self._ee_pose()[2])

    def _joint_angles(self) -> list[float]:
        cached = self.sim.cache.get("q")
        if cached is None:
            states = self.sim.client.getJointStates(self.id, self._movable)
            cached = self.sim.cache["q"] = [st[0] for st in states]
        return cached  # type: ignore[return-value]

    def finger_width(self) -> float:
        """Distance between the fingers in metres (from the gripper joints, by the config's
        linear map)."""
        q = self._joint_angles()
        return sum((q[col] - closed) * scale for col, closed, scale in self._width_from) / len(
            self._width_from
        )

    def joint_positions(self) -> np.ndarray:
        """Positions of every movable joint, in index order (arm joints, then the hand's)."""
        return np.array(self._joint_angles())

    def touching(self, body: int) -> tuple[bool, bool]:
        """Whether the left and right fingers are in contact with ``body``."""
        key = ("touch", body)
        cached = self.sim.cache.get(key)
        if cached is None:
            links = {pt[3] for pt in self.sim.client.getContactPoints(self.id, body)}
            cached = self.sim.cache[key] = (
                any(link in links for link in self._left),
                any(link in links for link in self._right),
            )
        return cached  # type: ignore[return-value]

    def collides_with(self, body: int, ignore_links: Sequence[int] | None = None) -> bool:
        """Whether any robot link other than ``ignore_links`` (default: the ``base`` role)
        touches ``body``."""
        ignore = self._base_links if ignore_links is None else ignore_links
        for pt in self.sim.client.getContactPoints(self.id, body):
            if pt[3] not in ignore:
                return True
        return False
