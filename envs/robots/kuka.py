"""KUKA LBR iiwa with a Schunk WSG50 gripper, from ``pybullet_data``
(``kuka_iiwa/kuka_with_gripper2.sdf``, the model of PyBullet's own Kuka grasping envs).

Each finger is a revolute base joint and a tip joint; the tips and the wrist joint that
carries the gripper are held still.
"""

from __future__ import annotations

import math

from envs.robots.config import GripperJoint, RobotConfig

_S = math.sqrt(0.5)

KUKA = RobotConfig(
    name="kuka",
    path="kuka_iiwa/kuka_with_gripper2.sdf",
    arm_joints=tuple(f"J{i}" for i in range(7)),
    ee_link="lbr_iiwa_link_7",
    gripper_joints=(
        GripperJoint("gripper_to_arm", open=0.0, closed=0.0, force=50.0),
        GripperJoint("base_left_finger_joint", open=-0.3, closed=0.0, force=10.0),
        GripperJoint("left_base_tip_joint", open=0.0, closed=0.0, force=10.0),
        GripperJoint("base_right_finger_joint", open=0.3, closed=0.0, force=10.0),
        GripperJoint("right_base_tip_joint", open=0.0, closed=0.0, force=10.0),
    ),
    max_width=0.1,
    home=(0.0384, 0.292, -0.0517, -1.3083, 0.0149, 1.5417, -1.5824),  # TCP 0.32 m over the table
    arm_force=(300.0,) * 7,
    tool_offset=(0.0, 0.024, 0.275),  # between the tips, 1 cm above their ends when closed
    # tool down, fingers closing along the world y axis
    ee_orientation=(_S, -_S, 0.0, 0.0),
    # 15 cm behind the mount point: the long wrist and gripper need the room to reach the
    # near edge of the workspace with the elbow inside its +-120 deg
    base_position=(-0.15, 0.0, 0.0),
    link_roles={
        "base": ("lbr_iiwa_link_0",),
        "arm": tuple(f"lbr_iiwa_link_{i}" for i in range(1, 8)),
        "hand": ("base_link",),
        "fingers": (
            "left_finger",
            "left_finger_base",
            "left_finger_tip",
            "right_finger",
            "right_finger_base",
            "right_finger_tip",
        ),
    },
)
