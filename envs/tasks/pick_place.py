"""PickPlace: pick an object (the cube by default) and place it into a tray.

Built only through the Task API (docs/TASKS.md): the object is an :class:`ObjectTask`
object, the tray (``tray/traybox.urdf`` from ``pybullet_data``) a fixture the task adds with
``scene.add_fixture``; both are placed per episode from the task's own initial state, so
distractors and other fixtures keep clear of the tray wherever it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.fixtures import FixtureSpec
from envs.objects import ObjectSpec
from envs.panda_env import PandaTaskEnv
from envs.scene import TableScene
from envs.tasks.object_task import ObjectTask
from randomizers.placement import Rect, blocked, fixture_rects
from randomizers.spaces import ParamSpec

# loaded in a far corner of the table (clear of the workspace), moved to its place per episode
TRAY = FixtureSpec("tray/traybox.urdf", position=(1.05, 0.33), scale=0.4, name="tray")
TRAY_X = (0.4, 0.6)  # where the tray's centre goes (world x, metres)
TRAY_Y = (-0.2, 0.2)
CLEARANCE = 0.05  # m between the tray's rim and the object's box, and the fingers' room
DROP = 0.02  # m: the expert lets go with the object's bottom this far above the tray floor
MAX_TRIES = 100  # draws of a position before giving up


class PickPlaceTask(ObjectTask):
    """Success when the object rests, released, inside the tray's floor footprint.

    Initial state: the object's ``cube.x``/``object.x``, ``.y``, ``.yaw`` (see
    :class:`ObjectTask`) plus ``tray.x``, ``tray.y``; the object is drawn until it lies
    ``CLEARANCE`` clear of the tray, so both start apart.
    """

    name = "pick_place"
    default_max_episode_steps = 150
    uses_gripper = True
    state_names: ClassVar[tuple[str, ...]] = (*ObjectTask.state_names, "tray_x", "tray_y", "tray_z")

    def __init__(
        self,
        scene: TableScene,
        *,
        max_yaw: float = np.pi / 4,
        object: str | ObjectSpec | Mapping[str, Any] = "cube",
        tray: FixtureSpec | Mapping[str, Any] = TRAY,
    ) -> None:
        super().__init__(scene, max_yaw=max_yaw, object=object)
        self.tray = scene.add_fixture(FixtureSpec.from_value(tray))
        c = self.sim.client
        (x, y, z), self.tray_orientation = c.getBasePositionAndOrientation(self.tray.body)
        lo, hi = self.tray.low, self.tray.high
        self.tray_half = ((hi[0] - lo[0]) / 2, (hi[1] - lo[1]) / 2)
        self.tray_base = z - scene.table_top  # base origin above the table top
        # the floor is the first thing a ray down the tray's centre hits
        hit = c.rayTest([x, y, hi[2] + 0.1], [x, y, lo[2] - 0.1])[0]
        self.floor_height = hit[3][2] - z if hit[0] == self.tray.body else 0.0
        self.inner_half = 0.6 * min(self.tray_half)  # the flat floor inside the slanted walls
        self.tray_pos = (x, y, z)

    # -- initial state ----------------------------------------------------------------
    def state_space(self) -> list[ParamSpec]:
        return [
            *self.cube_space(),
            ParamSpec("tray.x", "continuous", *TRAY_X),
            ParamSpec("tray.y", "continuous", *TRAY_Y),
        ]

    def keepout(self) -> list[Rect]:
        """The other fixtures' footprints (the tray moves with the state)."""
        names = self.scene.roles.get("fixtures", [])
        rects = fixture_rects(self.scene)
        return [r for n, r in zip(names, rects, strict=True) if n != self.tray.name]

    def _tray_rect(self, x: float, y: float, margin: float = 0.0) -> Rect:
        hx, hy = self.tray_half[0] + margin, self.tray_half[1] + margin
        return (x - hx, y - hy, x + hx, y + hy)

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        others = self.keepout()
        for _ in range(MAX_TRIES):
            tx, ty = float(rng.uniform(*TRAY_X)), float(rng.uniform(*TRAY_Y))
            if not blocked(self._tray_rect(tx, ty), others):
                break
        else:
            raise ValueError(
                f"no place for the tray in x {TRAY_X}, y {TRAY_Y} clear of the fixtures "
                f"{[n for n in self.scene.roles['fixtures'] if n != self.tray.name]}; "
                f"move the fixtures"
            )
        tray = self._tray_rect(tx, ty, max(self.ob.half[:2]) + CLEARANCE)
        k = self.key
        for _ in range(MAX_TRIES):
            cube = self.sample_cube(rng)  # clear of the other fixtures
            if not blocked((cube[f"{k}.x"], cube[f"{k}.y"]) * 2, [tray], margin=0.0):
                break
        else:  # the object box leaves no room: beside the tray, on the side with more table
            cube[f"{k}.y"] = tray[1] if ty > 0 else tray[3]
        return {**cube, "tray.x": tx, "tray.y": ty}

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.place_cube(state)
        z = self.scene.table_top + self.tray_base
        self.sim.set_pose(self.tray.name, (state["tray.x"], state["tray.y"], z),
                          self.tray_orientation)  # fmt: skip
        self._read_tray()

    def after_randomization(self) -> None:
        super().after_randomization()
        self._read_tray()  # the table-height randomizer may have moved it

    def _read_tray(self) -> None:
        pos = self.sim.client.getBasePositionAndOrientation(self.tray.body)[0]
        self.tray_pos = (float(pos[0]), float(pos[1]), float(pos[2]))
        self.goal = np.array([pos[0], pos[1], pos[2] + self.floor_height])

    # -- readings ---------------------------------------------------------------------
    def observation(self) -> list[float]:
        return [*self.cube_observation(), *self.tray_pos]

    def _inside(self) -> tuple[bool, float]:
        """Whether the object's box centre is over the tray floor, and its distance from
        the tray's centre line."""
        centre, _ = self.object_box()
        dx, dy = centre[0] - self._goal[0], centre[1] - self._goal[1]
        return max(abs(dx), abs(dy)) < self.inner_half, math.hypot(dx, dy)

    def is_success(self) -> bool:
        inside, _ = self._inside()
        if not inside:
            return False
        centre, half = self.object_box()
        resting = centre[2] - half[2] < self._goal[2] + 0.01
        slow = math.hypot(*self._cube()[2]) < 0.05
        left, right = self.robot.touching(self.cube)
        return bool(resting and slow and not (left and right))

    def dense_reward(self) -> float:
        pos = self._cube()[0]
        reach = math.dist(self.robot.ee_position(), pos)
        _, off = self._inside()
        return -reach - 2.0 * off

    def privileged_state(self) -> dict[str, np.ndarray]:
        state = super().privileged_state()
        centre, half = self.object_box()
        # the grasp point's height above the object's bottom, so the object lands softly
        above = float(state["grasp_pos"][2] - (centre[2] - half[2]))
        state["goal_pos"] = self.goal
        state["place_pos"] = np.array([*self._goal[:2], self._goal[2] + above + DROP])
        state["tray_pos"] = np.array(self.tray_pos)
        state["max_finger_width"] = np.array([self.robot.max_width])
        return state


class PickPlaceEnv(PandaTaskEnv):
    """Pick the 4 cm cube (or ``task_kwargs={"object": ...}``: a built-in object such as
    ``"mug"``, a file path or an :class:`envs.objects.ObjectSpec`) and place it into a tray.

    ## Action space
    ``Box(-1, 1, (4,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` per step, then the gripper opening: -1 closed, +1 open.

    ## Observation space
    See :class:`envs.panda_env.PandaTaskEnv`; state entries are ``PickPlaceTask.state_names``.

    ## Rewards
    ``dense``: minus the end-effector-to-object distance, minus 2 x the object's horizontal
    distance from the tray centre. ``sparse``: 0 on success, -1 otherwise.

    ## Starting state
    Tray (``tray/traybox.urdf`` at 0.4 scale, 24 cm square) at a random place; the object at
    rest at a random position and yaw (+-45 deg) clear of it; gripper open.

    ## Episode end
    Terminates when the released object rests on the tray floor, or leaves the table;
    truncates after 150 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = PickPlaceTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
