"""The shared workspace: floor, table and a robot (the Panda by default) mounted on the
table's back edge."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.camera import Camera, CameraConfig
from envs.fixtures import Fixture, FixtureSpec, check_overlaps, load_fixture, resolve_fixtures
from envs.objects import ObjectBody, ObjectSpec, load_object, resolve_object
from envs.robot import ControlConfig, Robot
from envs.robots import RobotConfig, resolve_robot
from envs.sim import PhysicsConfig, Simulation

TABLE_TOP = 0.625  # nominal height of pybullet_data's table surface (m); read scene.table_top
TABLE_CENTER = (0.5, 0.0)
TABLE_HALF = (0.75, 0.5)  # half extents of the table top in x and y (m)
ROBOT_BASE = (0.0, 0.0, TABLE_TOP)  # the mount point; RobotConfig.base_position is relative
FLOOR_HALF = (2.0, 2.0, 0.01)
FLOOR_CENTER = (0.3, 0.0)
PARK_ORIGIN = (-3.0, 6.0, 1.0)  # pooled objects wait here, static, off the floor and the view


@dataclass(frozen=True)
class Workspace:
    """Boxes (world frame, metres) where objects are placed and the end effector may go."""

    object_low: tuple[float, float] = (0.35, -0.2)
    object_high: tuple[float, float] = (0.65, 0.2)
    ee_low: tuple[float, float, float] = (0.2, -0.4, TABLE_TOP + 0.005)
    ee_high: tuple[float, float, float] = (0.8, 0.4, TABLE_TOP + 0.45)

    def __post_init__(self) -> None:
        for low, high, n in (("object_low", "object_high", 2), ("ee_low", "ee_high", 3)):
            lo, hi = getattr(self, low), getattr(self, high)
            for key, v in ((low, lo), (high, hi)):
                if len(v) != n or not all(
                    isinstance(x, (int, float)) and math.isfinite(x) for x in v
                ):
                    raise ValueError(f"Workspace.{key} needs {n} finite numbers, got {v!r}")
            if any(a > b for a, b in zip(lo, hi, strict=True)):
                raise ValueError(f"Workspace needs {low} <= {high} per axis, got {lo} and {hi}")
        table_lo = [c - h for c, h in zip(TABLE_CENTER, TABLE_HALF, strict=True)]
        table_hi = [c + h for c, h in zip(TABLE_CENTER, TABLE_HALF, strict=True)]
        if any(v < a for v, a in zip(self.object_low, table_lo, strict=True)) or any(
            v > b for v, b in zip(self.object_high, table_hi, strict=True)
        ):
            raise ValueError(
                f"Workspace object box {self.object_low}..{self.object_high} must lie on the "
                f"table top ({tuple(table_lo)}..{tuple(table_hi)})"
            )


@dataclass
class SceneEffects:
    """Settings that randomizers write and the env reads every step (not PyBullet state)."""

    action_latency: int = 0  # env steps between an action and its execution
    action_noise: float = 0.0  # std of Gaussian noise added to normalized actions
    observation_noise: float = 0.0  # std of Gaussian noise added to the state vector
    image_filter: Callable[[np.ndarray, int], np.ndarray] | None = None  # (rgb, frame) -> rgb
    light: dict[str, Any] = field(default_factory=dict)  # getCameraImage lighting kwargs


class TableScene:
    """Builds the floor, table and robot once; tasks add their own objects.

    What randomizers need is reachable from here: the simulation (bodies by name),
    the robot, the cameras, ``roles`` (which bodies are table, floor, robot, task objects,
    distractors), ``effects`` (per-step settings) and ``store`` (per-scene state such as
    texture slots and captured nominal values, keyed by randomizer name).

    Args:
        physics: simulation timing.
        control: robot control settings.
        workspace: placement and end-effector bounds.
        gui: show the PyBullet GUI when a display exists.
        visual_detail: ``"low"`` or ``"full"`` robot visual meshes.
        renderer: ``"tiny"`` (TinyRenderer) or ``"egl"`` (hardware OpenGL through EGL).
        robot: ``"panda"`` (default), ``"xarm6"``, ``"kuka"`` or a :class:`RobotConfig`.
        fixtures: static bins, shelves, walls (:class:`envs.fixtures.FixtureSpec` or dicts),
            loaded after the robot; overlapping ones fail here, naming both.
    """

    def __init__(
        self,
        physics: PhysicsConfig | None = None,
        control: ControlConfig | None = None,
        workspace: Workspace | None = None,
        *,
        gui: bool = False,
        visual_detail: str = "low",
        renderer: str = "tiny",
        robot: str | RobotConfig | None = None,
        fixtures: Sequence[FixtureSpec | Mapping[str, Any]] | None = None,
    ) -> None:
        config = resolve_robot(robot)  # an unknown name fails before PyBullet starts
        fixture_specs = resolve_fixtures(fixtures)  # bad specs fail before PyBullet starts
        self.sim = Simulation(physics, gui=gui, renderer=renderer)
        self.workspace = workspace or Workspace()
        self.table_top = TABLE_TOP
        self.table_offset = 0.0  # the table-height randomizer's shift of this episode (m)
        # A 4 x 4 m floor tile rather than plane.urdf's 30 x 30 m plane: TinyRenderer spends
        # about 0.7 ms per 64 px frame on the huge plane's triangles, which lie mostly
        # outside the view (measured: 430 -> 520 frames/s for the nominal scene).
        self.sim.create_primitive(
            "floor", "box", FLOOR_HALF, mass=0.0, position=(FLOOR_CENTER[0], FLOOR_CENTER[1], -FLOOR_HALF[2]),
            rgba=(0.55, 0.6, 0.7, 1.0),
        )  # fmt: skip
        self.sim.load_urdf("table", "table/table.urdf", (*TABLE_CENTER, 0.0), fixed=True)
        base = tuple(m + d for m, d in zip(ROBOT_BASE, config.base_position, strict=True))
        try:
            self.robot = Robot(
                self.sim, config, base, self.workspace.ee_low, self.workspace.ee_high, control,
                visual_detail=visual_detail,
            )  # fmt: skip
        except BaseException:
            self.sim.close()
            raise
        self._nominal_heights = (self.robot.base_position.copy(), self.robot.ee_low,
                                 self.robot.ee_high)  # fmt: skip
        self.effects = SceneEffects()
        self.store: dict[str, Any] = {}
        self.roles: dict[str, list[str]] = {
            "floor": ["floor"],
            "table": ["table"],
            "robot": ["robot"],
            "target": [],
            "objects": [],
            "distractors": [],
        }
        self.roles["fixtures"] = []
        self.fixtures: dict[str, Fixture] = {}
        try:
            for spec in fixture_specs:
                self.add_fixture(spec)
        except BaseException:
            self.sim.close()
            raise
        self.cameras: list[Camera] = []
        self.camera_config = CameraConfig()
        self.objects: dict[str, ObjectBody] = {}  # bodies loaded from ObjectSpecs, by name
        self._active: dict[str, bool] = {}  # pooled objects: whether in play (mass > 0) now

    # -- fixtures and table height -----------------------------------------------------
    def add_fixture(self, spec: FixtureSpec | Mapping[str, Any]) -> Fixture:
        """Load a static fixture; an overlap with an existing one fails naming both.

        After the env's snapshot (``env.unwrapped.scene.add_fixture(...)``) the world first
        returns to its initial state, then the fixture joins it and a new snapshot is taken:
        call ``env.reset()`` next.
        """
        spec = FixtureSpec.from_value(spec)
        late = self.sim.has_snapshot
        if late:
            self.sim.restore()  # the bodies at their initial poses, the table at its nominal height
            self._set_heights(0.0)
        name = spec.name or f"fixture{len(self.fixtures)}"
        if name in self.sim.bodies:
            raise ValueError(f"a body named {name!r} already exists; give the fixture another name")
        low = [c - h for c, h in zip(TABLE_CENTER, TABLE_HALF, strict=True)]
        high = [c + h for c, h in zip(TABLE_CENTER, TABLE_HALF, strict=True)]
        fixture = load_fixture(self.sim, name, spec, self.table_top, low, high)
        try:
            check_overlaps([*self.fixtures.values(), fixture])
        except ValueError:
            self.client.removeBody(fixture.body)
            self.sim.forget(name)
            raise
        self.fixtures[name] = fixture
        self.roles["fixtures"].append(name)
        if late:
            self.sim.snapshot()
        return fixture

    def set_table_offset(self, offset: float) -> None:
        """Move the table ``offset`` metres from its nominal height, and with it what stands
        on it: the robot, fixtures on the table, task objects, goals and distractors over
        the table top; ``table_top``, the robot's base and its end-effector box follow."""
        dz = float(offset) - self.table_offset
        if dz == 0.0:
            return
        c = self.client
        moved = {self.sim.body("table"), self.robot.id}
        moved |= {f.body for f in self.fixtures.values() if f.spec.on_table}
        for name, body in self.sim.bodies.items():
            if body in moved or name == "floor":
                continue
            pos = c.getBasePositionAndOrientation(body)[0]
            if self.on_table(pos):
                moved.add(body)
        for body in sorted(moved):
            pos, orn = c.getBasePositionAndOrientation(body)
            c.resetBasePositionAndOrientation(body, [pos[0], pos[1], pos[2] + dz], orn)
        self._set_heights(float(offset))

    def _set_heights(self, offset: float) -> None:
        """Python-side heights follow the table: its top, the robot base, the TCP box
        (absolute values from the nominal ones, so they never drift)."""
        self.table_offset = offset
        self.table_top = TABLE_TOP + offset
        r, (base, low, high) = self.robot, self._nominal_heights
        r.base_position = base + np.array([0.0, 0.0, offset])
        r.ee_low = (*low[:2], low[2] + offset)
        r.ee_high = (*high[:2], high[2] + offset)
        self.sim.cache.clear()

    # -- objects ------------------------------------------------------------------------
    def resolve_object(self, value: str | ObjectSpec | Mapping[str, Any]) -> ObjectSpec:
        """An :class:`ObjectSpec` from a built-in name, a path, a dict or a spec."""
        return resolve_object(value)

    def add_object(
        self,
        name: str,
        spec: str | ObjectSpec | Mapping[str, Any],
        *,
        position: Sequence[float] | None = None,
        static: bool = False,
        pooled: bool = False,
    ) -> ObjectBody:
        """Load an object as body ``name`` (before the env's snapshot).

        ``static``: fixed in the world (distractors). ``pooled``: a stand-in a randomizer
        swaps in per episode (:meth:`swap_object`); it waits at a parking spot, without mass,
        until then. Without ``position`` the object is parked.
        """
        spec = resolve_object(spec)
        park = (PARK_ORIGIN[0] - 0.3 * len(self.objects), PARK_ORIGIN[1], PARK_ORIGIN[2])
        ob = load_object(self.sim, name, spec, park if position is None else position,
                         static=static, pooled=pooled)  # fmt: skip
        ob.park = park
        self.objects[name] = ob
        if pooled:
            # dynamic at the snapshot, so a reset clears its contacts like any free body's;
            # reset_objects() takes its mass away until a randomizer swaps it in
            self._active[name] = True
        return ob

    def reset_objects(self) -> None:
        """After a restore: pooled objects parked without mass, task objects with theirs."""
        c = self.client
        for name, active in self._active.items():
            ob = self.objects[name]
            if active != (not ob.pooled):
                c.changeDynamics(ob.body, -1, mass=0.0 if ob.pooled else ob.mass)
                self._active[name] = not ob.pooled

    def swap_object(self, role: str, name: str) -> None:
        """Put object ``name`` where the first body of ``role`` is (same place, turn and
        bottom height) and park that one; ``roles[role]`` then names ``name``."""
        old = self.body_names(role)[0]
        if old == name:
            return
        a, b = self.objects[old], self.objects[name]
        c = self.client
        pos, orn = c.getBasePositionAndOrientation(a.body)
        # the same turn away from each one's rest orientation
        inv = c.invertTransform([0, 0, 0], a.rest_orientation)[1]
        turn = c.multiplyTransforms([0, 0, 0], orn, [0, 0, 0], inv)[1]
        new_orn = c.multiplyTransforms([0, 0, 0], turn, [0, 0, 0], b.rest_orientation)[1]
        new_pos = [pos[0], pos[1], pos[2] - a.rest_z + b.rest_z]
        for ob, active in ((a, False), (b, True)):
            if self._active.get(ob.name, True) != active:
                c.changeDynamics(ob.body, -1, mass=ob.mass if active else 0.0)
            self._active[ob.name] = active
        self.sim.set_pose(old, a.park, a.rest_orientation)
        self.sim.set_pose(name, new_pos, new_orn)
        self.roles[role] = [name, *self.roles[role][1:]]

    def reset_effects(self) -> None:
        """Back to nominal per-episode settings before randomizers apply theirs: no latency
        or noise, default lighting, nominal gravity and motor strength."""
        fx = self.effects
        fx.action_latency, fx.action_noise, fx.observation_noise = 0, 0.0, 0.0
        fx.image_filter = None
        fx.light.clear()
        self.robot.force_scale = 1.0
        self.client.setGravity(*self.sim.physics.gravity)
        if self.table_offset:  # the restore put the bodies back; the heights follow
            self._set_heights(0.0)
        self.reset_objects()

    def add_camera(self, config: CameraConfig) -> Camera:
        """A camera that follows :meth:`set_camera` (keeping its own image size)."""
        cam = Camera(self.client, config, light=self.effects.light, renderer=self.sim.renderer)
        self.cameras.append(cam)
        return cam

    def set_camera(self, config: CameraConfig) -> None:
        """Move every camera to ``config``'s pose and optics (each keeps its image size)."""
        self.camera_config = config
        for cam in self.cameras:
            cam.configure(config.resized(cam.config.width, cam.config.height))

    def body_names(self, role: str) -> list[str]:
        """Names of the bodies that play ``role``."""
        try:
            return list(self.roles[role])
        except KeyError:
            raise KeyError(f"unknown role {role!r}; known roles: {sorted(self.roles)}") from None

    @property
    def client(self):
        """The scene's ``BulletClient``."""
        return self.sim.client

    def on_table(self, position: Sequence[float] | np.ndarray, margin: float = 0.0) -> bool:
        """Whether an (x, y, z) point lies over the table top and not below its surface."""
        inside = (
            abs(position[0] - TABLE_CENTER[0]) <= TABLE_HALF[0] - margin
            and abs(position[1] - TABLE_CENTER[1]) <= TABLE_HALF[1] - margin
        )
        return bool(inside and position[2] > self.table_top - 0.02)

    def world_to_robot(self, position: np.ndarray) -> np.ndarray:
        """Express a world point in the robot base frame (the base is not rotated)."""
        return np.asarray(position) - self.robot.base_position
