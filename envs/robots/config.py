"""A robot as data: its model file, arm joints, end effector, gripper and link roles."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LINK_ROLES = ("base", "arm", "hand", "fingers")  # the roles every robot config declares


def _numbers(value: Any, n: int | None, where: str, *, positive: bool = False) -> tuple[float, ...]:
    """``value`` as a tuple of finite floats (``n`` of them when given), else a ValueError."""
    ok = isinstance(value, (tuple, list)) and (n is None or len(value) == n)
    if ok:
        ok = all(
            not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
            and (v > 0 or not positive)
            for v in value
        )  # fmt: skip
    if not ok:
        count = f"{n} " if n is not None else ""
        kind = "numbers > 0" if positive else "finite numbers"
        raise ValueError(f"{where} needs {count}{kind}, got {value!r}")
    return tuple(float(v) for v in value)


def _names(value: Any, where: str, *, empty: bool = False) -> tuple[str, ...]:
    """``value`` as a tuple of non-empty strings, else a ValueError."""
    if isinstance(value, str) or not isinstance(value, (tuple, list)):
        raise ValueError(f"{where} needs a list of names, got {value!r}")
    if not value and not empty:
        raise ValueError(f"{where} needs at least one name, got {value!r}")
    if not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{where} needs non-empty strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class GripperJoint:
    """One gripper joint and the positions it takes at the two ends of the opening.

    A commanded finger width ``w`` in [0, ``RobotConfig.max_width``] sets this joint's
    target to ``closed + (open - closed) / max_width * w`` (linear). A joint with
    ``open == closed`` is held still (a wrist or a fingertip joint that only needs a motor).
    The measured finger width inverts the same map, averaged over the moving joints with
    ``measure=True`` (in a linkage, the joints that set the opening).
    """

    name: str
    open: float
    closed: float
    force: float
    measure: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"GripperJoint.name must be a joint name, got {self.name!r}")
        for key in ("open", "closed", "force"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"GripperJoint {self.name!r}: {key} must be a number, got {v!r}")
        if not self.force > 0:
            raise ValueError(f"GripperJoint {self.name!r}: force must be > 0, got {self.force!r}")


@dataclass(frozen=True)
class RobotConfig:
    """Everything the env needs to know about a fixed-base arm with a parallel gripper.

    Joints and links are named as in the model file; :class:`envs.robot.Robot` resolves the
    names when it loads the model and an unknown one fails with the model's real names.

    Args:
        name: a short name for messages and ``gym.make(id, robot=name)``.
        path: URDF or SDF file, relative to ``pybullet_data`` or absolute.
        arm_joints: the joints that inverse kinematics moves, base to tip.
        ee_link: the link whose frame, shifted by ``tool_offset``, is the tool centre
            point (TCP) that actions move and observations report.
        gripper_joints: every joint of the hand that gets a motor, with its positions at
            the widest opening and when closed (see :class:`GripperJoint`).
        max_width: distance between the fingers when fully open (metres); an action of
            +1 opens to it, -1 closes to 0.
        home: arm joint angles at reset: TCP a few decimetres over the table, pointing down.
        arm_force: motor force limit per arm joint (N m).
        tool_offset: the TCP in the ``ee_link`` frame (x, y, z metres): between the finger
            pads, about a centimetre above the fingertips.
        ee_orientation: quaternion (x, y, z, w) of the ``ee_link`` frame with the tool
            pointing at the floor and the fingers closing along the world y axis; IK keeps it.
        base_position: the base in the world, relative to the mount point on the table's
            back edge, ``(0, 0, table top)``.
        link_roles: link names by role, for randomizers and contact checks: ``base``
            (links that rest on the table: never a collision), ``arm``, ``hand`` and
            ``fingers`` (the contact surfaces: left links then right links, as many each).
            The union of the roles is what the texture randomizer paints.
        low_poly: ``visual_detail="low"`` may swap the visual meshes for the collision
            meshes (only the Panda ships a generator for it).
    """

    name: str
    path: str
    arm_joints: tuple[str, ...]
    ee_link: str
    gripper_joints: tuple[GripperJoint, ...]
    max_width: float
    home: tuple[float, ...]
    arm_force: tuple[float, ...]
    tool_offset: tuple[float, float, float] = (0.0, 0.0, 0.0)
    ee_orientation: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)
    base_position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    link_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    low_poly: bool = False

    def __post_init__(self) -> None:
        where = f"RobotConfig {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"RobotConfig.name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.path, str) or not self.path.endswith((".urdf", ".sdf")):
            raise ValueError(f"{where}: path must be a .urdf or .sdf file, got {self.path!r}")
        arm = _names(self.arm_joints, f"{where}: arm_joints")
        if not isinstance(self.ee_link, str) or not self.ee_link:
            raise ValueError(f"{where}: ee_link must be a link name, got {self.ee_link!r}")
        grip = self.gripper_joints
        if not isinstance(grip, (tuple, list)) or not all(
            isinstance(g, GripperJoint) for g in grip
        ):
            raise ValueError(f"{where}: gripper_joints needs a list of GripperJoint, got {grip!r}")
        if not any(g.open != g.closed and g.measure for g in grip):
            raise ValueError(
                f"{where}: gripper_joints needs at least one joint that moves (open != closed) "
                "with measure=True (the finger width is read from it)"
            )
        if (
            isinstance(self.max_width, bool)
            or not isinstance(self.max_width, (int, float))
            or not (0 < self.max_width <= 0.5)
        ):
            raise ValueError(
                f"{where}: max_width must be in (0, 0.5] metres, got {self.max_width!r}"
            )
        set_ = object.__setattr__  # normalize lists to tuples (the dataclass is frozen)
        set_(self, "arm_joints", arm)
        set_(self, "gripper_joints", tuple(grip))
        set_(
            self, "home", _numbers(self.home, len(arm), f"{where}: home (one angle per arm joint)")
        )
        set_(
            self,
            "arm_force",
            _numbers(
                self.arm_force, len(arm), f"{where}: arm_force (one per arm joint)", positive=True
            ),
        )
        set_(self, "tool_offset", _numbers(self.tool_offset, 3, f"{where}: tool_offset"))
        set_(self, "base_position", _numbers(self.base_position, 3, f"{where}: base_position"))
        q = _numbers(self.ee_orientation, 4, f"{where}: ee_orientation")
        if abs(math.sqrt(sum(v * v for v in q)) - 1.0) > 1e-6:
            raise ValueError(f"{where}: ee_orientation must be a unit quaternion, got {q!r}")
        set_(self, "ee_orientation", q)
        roles = self.link_roles
        if not isinstance(roles, Mapping):
            raise ValueError(
                f"{where}: link_roles needs a mapping role -> link names, got {roles!r}"
            )
        missing = [r for r in LINK_ROLES if r not in roles]
        if missing:
            raise ValueError(
                f"{where}: link_roles lacks {missing}; every robot declares {list(LINK_ROLES)}"
            )
        clean = {r: _names(v, f"{where}: link_roles[{r!r}]", empty=r != "fingers")
                 for r, v in roles.items()}  # fmt: skip
        if len(clean["fingers"]) % 2:
            raise ValueError(
                f"{where}: link_roles['fingers'] lists the left links then the right ones, as "
                f"many on each side; got {len(clean['fingers'])}: {list(clean['fingers'])}"
            )
        set_(self, "link_roles", clean)

    @property
    def max_finger(self) -> float:
        """Half of :attr:`max_width`: the scale of the normalized gripper action."""
        return self.max_width / 2

    def __hash__(self) -> int:
        return hash((self.name, self.path, self.arm_joints, self.ee_link, self.gripper_joints))
