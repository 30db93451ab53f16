"""UFACTORY xArm6 with the xArm gripper, from ``pybullet_data`` (``xarm/xarm6_with_gripper.urdf``).

The gripper is a parallel linkage of six revolute joints that mimic one drive joint;
PyBullet ignores URDF ``mimic`` tags, so every one of them gets the same target.
"""

from __future__ import annotations

from envs.robots.config import GripperJoint, RobotConfig

_LINKAGE = ("drive_joint", "left_finger_joint", "left_inner_knuckle_joint",
            "right_outer_knuckle_joint", "right_finger_joint", "right_inner_knuckle_joint")  # fmt: skip

XARM6 = RobotConfig(
    name="xarm6",
    path="xarm/xarm6_with_gripper.urdf",
    arm_joints=tuple(f"joint{i}" for i in range(1, 7)),
    ee_link="link6",
    # 0 rad: open (8.5 cm between the pads); 0.85 rad: closed. The outer knuckles set the
    # opening (the finger joints tilt the pads when they press on an object).
    gripper_joints=tuple(
        GripperJoint(
            n, open=0.0, closed=0.85, force=50.0, measure="outer" in n or n == "drive_joint"
        )
        for n in _LINKAGE
    ),
    max_width=0.085,
    home=(0.0, -0.1133, -1.3287, 0.0, 1.442, 0.0),  # TCP 0.32 m over the table, like the Panda
    arm_force=(50.0, 50.0, 32.0, 32.0, 32.0, 20.0),
    tool_offset=(0.0, 0.0, 0.167),  # between the pads, 1 cm above the fingertips when closed
    ee_orientation=(1.0, 0.0, 0.0, 0.0),
    link_roles={
        "base": ("link_base",),
        "arm": tuple(f"link{i}" for i in range(1, 7)),
        "hand": (
            "xarm_gripper_base_link",
            "left_outer_knuckle",
            "left_inner_knuckle",
            "right_outer_knuckle",
            "right_inner_knuckle",
        ),
        "fingers": ("left_finger", "right_finger"),
    },
)
