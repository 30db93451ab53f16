"""The Franka Panda from ``pybullet_data`` with its parallel gripper (the default robot).

The only place in the project that knows Panda joint and link indices (the index
constants serve the raw-PyBullet benchmark, which replays the Panda without the env).
"""

from __future__ import annotations

from envs.robots.config import GripperJoint, RobotConfig

PANDA = RobotConfig(
    name="panda",
    path="franka_panda/panda.urdf",
    arm_joints=tuple(f"panda_joint{i}" for i in range(1, 8)),
    ee_link="panda_grasptarget",  # the point between the fingertips
    gripper_joints=(
        GripperJoint("panda_finger_joint1", open=0.04, closed=0.0, force=20.0),
        GripperJoint("panda_finger_joint2", open=0.04, closed=0.0, force=20.0),
    ),
    max_width=0.08,
    # a compact ready pose: gripper pointing down about 0.32 m above the table
    home=(0.0, -0.3, 0.0, -2.4, 0.0, 2.1, 0.785),
    arm_force=(87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0),
    ee_orientation=(1.0, 0.0, 0.0, 0.0),
    link_roles={
        "base": ("panda_link0", "panda_link1"),
        "arm": tuple(f"panda_link{i}" for i in range(1, 8)),
        "hand": ("panda_hand",),
        "fingers": ("panda_leftfinger", "panda_rightfinger"),
    },
    low_poly=True,
)

# PyBullet indices of the Panda joints and links, in the order PANDA names them.
ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
