"""The shared workspace: floor, table and a Panda mounted on the table's back edge."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.robot import ControlConfig, Panda
from envs.sim import PhysicsConfig, Simulation

TABLE_TOP = 0.625  # height of pybullet_data's table surface (m)
TABLE_CENTER = (0.5, 0.0)
TABLE_HALF = (0.75, 0.5)  # half extents of the table top in x and y (m)
ROBOT_BASE = (0.0, 0.0, TABLE_TOP)


@dataclass(frozen=True)
class Workspace:
    """Boxes (world frame, metres) where objects are placed and the end effector may go."""

    object_low: tuple[float, float] = (0.35, -0.2)
    object_high: tuple[float, float] = (0.65, 0.2)
    ee_low: tuple[float, float, float] = (0.2, -0.4, TABLE_TOP + 0.005)
    ee_high: tuple[float, float, float] = (0.8, 0.4, TABLE_TOP + 0.45)


class TableScene:
    """Builds the floor, table and robot once; tasks add their own objects.

    Args:
        physics: simulation timing.
        control: robot control settings.
        workspace: placement and end-effector bounds.
        gui: show the PyBullet GUI when a display exists.
    """

    def __init__(
        self,
        physics: PhysicsConfig | None = None,
        control: ControlConfig | None = None,
        workspace: Workspace | None = None,
        *,
        gui: bool = False,
    ) -> None:
        self.sim = Simulation(physics, gui=gui)
        self.workspace = workspace or Workspace()
        self.table_top = TABLE_TOP
        self.sim.load_urdf("floor", "plane.urdf", fixed=True)
        self.sim.load_urdf("table", "table/table.urdf", (*TABLE_CENTER, 0.0), fixed=True)
        self.robot = Panda(
            self.sim, ROBOT_BASE, self.workspace.ee_low, self.workspace.ee_high, control
        )

    @property
    def client(self):
        """The scene's ``BulletClient``."""
        return self.sim.client

    def on_table(self, position: np.ndarray, margin: float = 0.0) -> bool:
        """Whether an (x, y, z) point lies over the table top and not below its surface."""
        inside = (
            abs(position[0] - TABLE_CENTER[0]) <= TABLE_HALF[0] - margin
            and abs(position[1] - TABLE_CENTER[1]) <= TABLE_HALF[1] - margin
        )
        return bool(inside and position[2] > self.table_top - 0.02)

    def world_to_robot(self, position: np.ndarray) -> np.ndarray:
        """Express a world point in the robot base frame (the base is not rotated)."""
        return np.asarray(position) - np.asarray(ROBOT_BASE)
