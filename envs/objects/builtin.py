"""The built-in objects: the 4 cm cube and household objects from ``pybullet_data``.

Each is scaled so that it fits the Panda's 8 cm gripper across the fixed finger axis at any
yaw the tasks draw (+-45 deg), and stands upright with its long side across that axis
(``rest_rpy``); grasp widths (the narrow horizontal side) are 1.2 to 5 cm.
"""

from __future__ import annotations

import math

from envs.objects.spec import ObjectSpec

HALF_PI = math.pi / 2

CUBE = ObjectSpec("box", size=(0.02, 0.02, 0.02), mass=0.1, category="cube",
                  rgba=(0.85, 0.15, 0.1, 1.0))  # fmt: skip

BUILTIN_OBJECTS: dict[str, ObjectSpec] = {
    "cube": CUBE,
    # 5.0 x 3.6 x 4.7 cm, upright (the mesh is Y-up)
    "duck": ObjectSpec("duck_vhacd.urdf", scale=0.55, category="duck", rest_rpy=(HALF_PI, 0, 0)),
    # 5.6 x 3.6 x 5.3 cm, in the pose it settles in when dropped (it tips over sitting up)
    "teddy": ObjectSpec(
        "teddy_vhacd.urdf", scale=0.4, category="teddy", rest_rpy=(1.7449, 1.1723, 0.1449)
    ),
    # 5.4 x 3.7 x 4.5 cm, the handle along x
    "mug": ObjectSpec(
        "objects/mug.urdf", scale=0.42, mass=0.15, category="mug", rest_rpy=(0, 0, HALF_PI)
    ),
    # 4.1 x 4.1 x 3.0 cm
    "lego": ObjectSpec("lego/lego.urdf", scale=1.2, category="lego"),
    # 6.0 x 1.2 x 2.0 cm, standing on its long edge
    "jenga": ObjectSpec("jenga/jenga.urdf", scale=0.4, category="jenga", rest_rpy=(HALF_PI, 0, 0)),
    # 5 cm across
    "soccer_ball": ObjectSpec("soccerball.urdf", scale=0.05, mass=0.1, category="soccer_ball"),
    # 4.4 cm across, 8 cm tall
    "can": ObjectSpec(
        "cylinder", size=(0.022, 0.08), mass=0.12, category="can", rgba=(0.75, 0.78, 0.8, 1.0)
    ),
}
