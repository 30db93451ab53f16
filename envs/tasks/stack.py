"""Stack: put cube A (4 cm, red) on cube B (5 cm, green).

Built only through the Task API (docs/TASKS.md): cube A is the :class:`ObjectTask` cube,
cube B a second object loaded with ``scene.add_object``; both are placed per episode from
the task's own initial state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from envs.objects import CUBE, ObjectSpec
from envs.panda_env import PandaTaskEnv
from envs.scene import TableScene
from envs.tasks.object_task import ObjectTask
from randomizers.placement import blocked, disc_rect
from randomizers.spaces import ParamSpec

BASE_CUBE = ObjectSpec("box", size=(0.025, 0.025, 0.025), mass=0.1, category="cube",
                       rgba=(0.15, 0.65, 0.2, 1.0))  # fmt: skip
MIN_GAP = 0.12  # m between the cubes' centres at the start: the open fingers fit between
DROP = 0.0  # m: the expert lets go with cube A resting on B (friction holds it as it opens)
MAX_TRIES = 100


class StackTask(ObjectTask):
    """Success when cube A rests, released, on cube B's top with its centre within
    ``tolerance`` of B's centre line.

    Initial state: ``cube.x``, ``cube.y``, ``cube.yaw`` (A, see :class:`ObjectTask`) and
    ``base.x``, ``base.y``, ``base.yaw`` (B), at least ``MIN_GAP`` apart.
    """

    name = "stack"
    default_max_episode_steps = 150
    uses_gripper = True
    state_names: ClassVar[tuple[str, ...]] = (
        *ObjectTask.state_names, "base_x", "base_y", "base_z", "base_top_z",
    )  # fmt: skip

    def __init__(
        self, scene: TableScene, *, max_yaw: float = np.pi / 4, tolerance: float = 0.015
    ) -> None:
        if not 0 < tolerance <= 0.05:
            raise ValueError(f"tolerance must be in (0, 0.05] metres, got {tolerance}")
        self.tolerance = float(tolerance)
        self._extras: dict[str, str] = {}
        super().__init__(scene, max_yaw=max_yaw, object=CUBE)
        self.base = scene.add_object(
            "base_cube", BASE_CUBE, position=(0.5, 0.3, scene.table_top + BASE_CUBE.size[2])
        )
        self.base_half = float(BASE_CUBE.size[2])
        self.cube_half = float(CUBE.size[2])
        self._extras["base_cube"] = BASE_CUBE.category
        self.objects.update(self._extras)

    def _bind(self, name: str) -> None:
        super()._bind(name)
        self.objects.update(self._extras)  # cube B is not the task object, but it stays

    @property
    def base_rest_z(self) -> float:
        """Height of cube B's centre at rest on the table (where the table is now)."""
        return self.scene.table_top + self.base.rest_z

    def after_randomization(self) -> None:
        super().after_randomization()
        self.goal = np.array(self._stack_point())  # the table-height randomizer may move B

    # -- initial state ----------------------------------------------------------------
    def state_space(self) -> list[ParamSpec]:
        ws = self.scene.workspace
        return [
            *self.cube_space(),
            ParamSpec("base.x", "continuous", ws.object_low[0], ws.object_high[0]),
            ParamSpec("base.y", "continuous", ws.object_low[1], ws.object_high[1]),
            ParamSpec("base.yaw", "continuous", -self.max_yaw, self.max_yaw),
        ]

    def sample_state(self, rng: np.random.Generator) -> dict[str, Any]:
        ws = self.scene.workspace
        keepout, radius = self.keepout(), float(np.hypot(self.base_half, self.base_half))
        for _ in range(MAX_TRIES):  # cube B clear of the fixtures
            bx, by = rng.uniform(ws.object_low, ws.object_high).tolist()
            if not blocked(disc_rect(bx, by, radius), keepout):
                break
        yaw = float(rng.uniform(-self.max_yaw, self.max_yaw))
        base = {"base.x": bx, "base.y": by, "base.yaw": yaw}
        for _ in range(MAX_TRIES):
            cube = self.sample_cube(rng)
            if math.hypot(cube["cube.x"] - bx, cube["cube.y"] - by) >= MIN_GAP:
                break
        else:  # unreachable for the default workspace (30 x 40 cm): opposite sides in y
            cube["cube.y"] = ws.object_low[1] if by > 0 else ws.object_high[1]
        return {**cube, **base}

    def apply_state(self, state: Mapping[str, Any]) -> None:
        self.place_cube(state)
        pos = (state["base.x"], state["base.y"], self.base_rest_z)
        orn = self.sim.client.getQuaternionFromEuler([0.0, 0.0, state["base.yaw"]])
        self.sim.set_pose("base_cube", pos, orn)
        self.goal = np.array(self._stack_point())

    # -- readings ---------------------------------------------------------------------
    def _base(self) -> tuple[float, ...]:
        """Cube B's centre (x, y, z), memoized per step."""
        cached = self.sim.cache.get("base_cube")
        if cached is None:
            pos = self.sim.client.getBasePositionAndOrientation(self.base.body)[0]
            cached = self.sim.cache["base_cube"] = tuple(pos)
        return cached  # type: ignore[return-value]

    def _stack_point(self) -> tuple[float, float, float]:
        """Where cube A's centre is when it rests centred on cube B."""
        bx, by, bz = self._base()
        return bx, by, bz + self.base_half + self.cube_half

    def observation(self) -> list[float]:
        bx, by, bz = self._base()
        return [*self.cube_observation(), bx, by, bz, bz + self.base_half]

    def is_success(self) -> bool:
        pos, _, vel = self._cube()
        sx, sy, sz = self._stack_point()
        if math.hypot(pos[0] - sx, pos[1] - sy) > self.tolerance or abs(pos[2] - sz) > 0.01:
            return False
        left, right = self.robot.touching(self.cube)
        return math.hypot(*vel) < 0.05 and not (left and right)

    def dense_reward(self) -> float:
        pos = self._cube()[0]
        reach = math.dist(self.robot.ee_position(), pos)
        return -reach - 2.0 * math.dist(pos, self._stack_point())

    def privileged_state(self) -> dict[str, np.ndarray]:
        state = super().privileged_state()
        stack = np.array(self._stack_point())
        state["goal_pos"] = stack
        state["place_pos"] = stack + np.array([0.0, 0.0, DROP])
        state["base_pos"] = np.array(self._base())
        state["max_finger_width"] = np.array([self.robot.max_width])
        return state


class StackEnv(PandaTaskEnv):
    """Stack a 4 cm red cube (A) on a 5 cm green cube (B).

    ## Action space
    ``Box(-1, 1, (4,), float32)``: end-effector displacement (dx, dy, dz), scaled by
    ``ControlConfig.max_ee_delta`` per step, then the gripper opening: -1 closed, +1 open.

    ## Observation space
    See :class:`envs.panda_env.PandaTaskEnv`; state entries are ``StackTask.state_names``.

    ## Rewards
    ``dense``: minus the end-effector-to-A distance, minus 2 x A's distance from its place
    on B. ``sparse``: 0 on success, -1 otherwise.

    ## Starting state
    Both cubes at rest at random positions and yaws (+-45 deg), at least 12 cm apart;
    gripper open.

    ## Episode end
    Terminates when the released cube A rests on B within 1.5 cm of B's centre line, or
    when A leaves the table; truncates after 150 steps.

    ## Version history
    v0: initial release.
    """

    task_cls = StackTask

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
