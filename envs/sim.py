"""One PyBullet physics client per env, with bodies looked up by name."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet_data


@functools.cache
def _c_fflush() -> Any:
    """C's ``fflush``, looked up once (an EGL render silences stdout on every frame)."""
    try:
        return ctypes.CDLL(None).fflush
    except (OSError, AttributeError, TypeError):  # no handle on the C library (Windows)
        return None


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers, so text printed by C code goes where fd 1 points now."""
    fflush = _c_fflush()
    if fflush is not None:
        fflush(None)


def _flush_python_stdout() -> None:
    """Write out what Python holds for stdout before fd 1 is pointed elsewhere."""
    try:
        sys.stdout.flush()
    except (AttributeError, OSError, ValueError):
        pass


@contextlib.contextmanager
def _stdout_to(target: int) -> Iterator[None]:
    """Point file descriptor 1, where C code writes whatever ``sys.stdout`` is, at
    ``target`` for a moment; C's buffers are flushed on both sides so nothing printed
    meanwhile lands on the real stdout later."""
    _flush_python_stdout()
    _flush_c_stdio()
    try:
        saved = os.dup(1)
    except OSError:  # no stdout at all: nothing to redirect
        yield
        return
    try:
        os.dup2(target, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send C-level stdout to stderr for a moment."""
    with _stdout_to(2):
        yield


with _stdout_to_stderr():  # PyBullet prints its build banner when first imported
    import pybullet
    from pybullet_utils import bullet_client

RENDERERS = ("tiny", "egl")


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout (the EGL plugin prints driver banners) for a moment."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with _stdout_to(devnull):
            yield
    finally:
        os.close(devnull)


Vec = Sequence[float] | np.ndarray  # a position, size or quaternion


class BulletClient(bullet_client.BulletClient):
    """``pybullet_utils`` client that binds each PyBullet function once.

    The stock client builds a new ``functools.partial`` on every attribute access, which
    costs more than many of the calls it wraps; here the bound function (or constant) is
    kept after its first use.
    """

    def __getattr__(self, name: str):
        attribute = super().__getattr__(name)
        if name != "disconnect":
            self.__dict__[name] = attribute
        return attribute


@dataclass(frozen=True)
class PhysicsConfig:
    """Simulation timing: ``n_substeps`` physics steps of ``timestep`` seconds per env step."""

    timestep: float = 1.0 / 240.0
    n_substeps: int = 10
    gravity: tuple[float, float, float] = (0.0, 0.0, -9.81)

    def __post_init__(self) -> None:
        if not self.timestep > 0:
            raise ValueError(f"PhysicsConfig.timestep must be > 0, got {self.timestep!r}")
        if not (isinstance(self.n_substeps, int) and self.n_substeps >= 1):
            raise ValueError(
                f"PhysicsConfig.n_substeps must be an int >= 1, got {self.n_substeps!r}"
            )

    @property
    def control_dt(self) -> float:
        """Seconds of simulated time per env step."""
        return self.timestep * self.n_substeps


class Simulation:
    """Owns a ``BulletClient`` and names every body loaded through it.

    Args:
        physics: timing and gravity.
        gui: open the PyBullet GUI instead of DIRECT mode; falls back to DIRECT
            with a warning when no display is available.
    """

    def __init__(
        self, physics: PhysicsConfig | None = None, *, gui: bool = False, renderer: str = "tiny"
    ) -> None:
        if renderer not in RENDERERS:
            raise ValueError(f"unknown renderer {renderer!r}; allowed: {', '.join(RENDERERS)}")
        self.physics = physics or PhysicsConfig()
        mode = pybullet.DIRECT
        if gui:
            if os.environ.get("DISPLAY") or os.name == "nt":
                mode = pybullet.GUI
            else:
                warnings.warn(
                    "render_mode='human' needs a display (DISPLAY is unset); "
                    "running headless in DIRECT mode instead.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        with quiet_stdout():  # the client's shared-memory probe prints "argv[0]=" to stdout
            self.client = BulletClient(connection_mode=mode)
        self.is_gui = mode == pybullet.GUI
        if self.is_gui:
            self.client.configureDebugVisualizer(pybullet.COV_ENABLE_GUI, 0)
        self.client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self.renderer = "tiny"
        self._egl_plugin: int | None = None
        if renderer == "egl":
            self._load_egl()  # before any body exists: frames are blank otherwise
        self.client.setTimeStep(self.physics.timestep)
        self.client.setGravity(*self.physics.gravity)
        self._bodies: dict[str, int] = {}
        # Readings (poses, velocities, contacts) memoized until the world next changes.
        self.cache: dict[object, object] = {}
        self._state_id: int | None = None
        self._snapshot_bodies: dict[str, int] = {}  # named bodies at the snapshot
        self._snapshot_count = 0  # bodies in the client at the snapshot (named or not)
        self._free: list[int] = []
        self._closed = False
        # restore() draws a 1 x 1 TinyRenderer image when set: exports set it (their pool hands
        # samples to workers by timing); an env's own episodes follow one history per seed list
        self.history_free = False

    def _load_egl(self) -> None:
        """Load PyBullet's EGL renderer plugin; on failure warn and keep TinyRenderer."""
        import importlib.util

        reason = ""
        try:
            spec = importlib.util.find_spec("eglRenderer")
            filename = spec.origin if spec is not None else None
            plugin = -1
            if filename:
                with quiet_stdout():
                    plugin = self.client.loadPlugin(filename, "_eglRendererPlugin")
            else:
                reason = "the eglRenderer module is not part of this pybullet build"
        except Exception as exc:  # a missing or broken driver stack surfaces here
            plugin, reason = -1, repr(exc)
        if plugin < 0:
            warnings.warn(
                f"renderer='egl' is not available here ({reason or 'loadPlugin failed'}); "
                "falling back to renderer='tiny'",
                RuntimeWarning,
                stacklevel=4,
            )
            return
        self._egl_plugin = plugin
        self.renderer = "egl"

    # -- bodies -----------------------------------------------------------------
    def load_urdf(
        self,
        name: str,
        path: str,
        position: Vec = (0.0, 0.0, 0.0),
        orientation: Vec = (0.0, 0.0, 0.0, 1.0),
        *,
        fixed: bool = False,
        flags: int = 0,
    ) -> int:
        """Load a URDF (relative to ``pybullet_data`` or absolute) under ``name``."""
        body = self.client.loadURDF(
            path, list(position), list(orientation), useFixedBase=fixed, flags=flags
        )
        return self._add(name, body)

    def create_primitive(
        self,
        name: str,
        shape: str,
        size: Vec,
        *,
        mass: float,
        position: Vec,
        rgba: Vec = (0.8, 0.8, 0.8, 1.0),
        collision: bool = True,
    ) -> int:
        """Create a box (``size`` = half extents), sphere (radius) or cylinder (radius, length).
        ``collision=False`` keeps the collision shape but filters it out of every contact and
        ray test: a body without one has a point for its AABB, and placement and 3D labels
        measure bodies by their AABB."""
        c = self.client
        if shape == "box":
            vis = c.createVisualShape(c.GEOM_BOX, halfExtents=list(size), rgbaColor=list(rgba))
            col = c.createCollisionShape(c.GEOM_BOX, halfExtents=list(size))
        elif shape == "sphere":
            vis = c.createVisualShape(c.GEOM_SPHERE, radius=size[0], rgbaColor=list(rgba))
            col = c.createCollisionShape(c.GEOM_SPHERE, radius=size[0])
        elif shape == "cylinder":
            vis = c.createVisualShape(
                c.GEOM_CYLINDER, radius=size[0], length=size[1], rgbaColor=list(rgba)
            )
            col = c.createCollisionShape(c.GEOM_CYLINDER, radius=size[0], height=size[1])
        else:
            raise ValueError(
                f"unknown primitive shape {shape!r}; allowed: 'box', 'sphere', 'cylinder'"
            )
        body = c.createMultiBody(
            baseMass=mass,
            baseCollisionShapeIndex=col,
            baseVisualShapeIndex=vis,
            basePosition=list(position),
        )
        if not collision:
            c.setCollisionFilterGroupMask(body, -1, 0, 0)
        return self._add(name, body)

    def _add(self, name: str, body: int) -> int:
        if name in self._bodies:
            raise ValueError(f"a body named {name!r} already exists; names: {sorted(self._bodies)}")
        self._bodies[name] = body
        return body

    def forget(self, name: str) -> None:
        """Drop a name whose body was removed from the client."""
        self._bodies.pop(name, None)

    def body(self, name: str) -> int:
        """PyBullet unique id of the body called ``name``."""
        try:
            return self._bodies[name]
        except KeyError:
            raise KeyError(
                f"no body named {name!r}; known bodies: {sorted(self._bodies)}"
            ) from None

    @property
    def bodies(self) -> dict[str, int]:
        """Name -> unique id of every body (a copy)."""
        return dict(self._bodies)

    def body_names(self) -> dict[int, str]:
        """Unique id -> name, for reading segmentation masks."""
        return {v: k for k, v in self._bodies.items()}

    # -- state ------------------------------------------------------------------
    @property
    def has_snapshot(self) -> bool:
        """Whether :meth:`snapshot` was taken (the env is built)."""
        return self._state_id is not None

    def snapshot(self) -> None:
        """Remember the current world state (including contact caches) for :meth:`restore`."""
        c = self.client
        if self._state_id is not None:
            c.removeState(self._state_id)
        self._state_id = c.saveState()
        self._snapshot_bodies = dict(self._bodies)
        self._snapshot_count = c.getNumBodies()
        # bodies with mass can carry contact manifolds over; static ones never move
        self._free = [b for b in self._bodies.values() if c.getDynamicsInfo(b, -1)[0] > 0]

    def restore(self) -> None:
        """Return to the snapshot so an episode never depends on the ones before it.

        ``restoreState`` keeps contact manifolds that exist now, and their warm-start
        impulses would leak into the next episode; so every free body is first parked far
        apart and collision detection is run once, which drops those manifolds. With
        ``history_free`` set, TinyRenderer then draws a 1 x 1 image of the restored scene
        (see the comment below; about 1 ms, a third of a randomized 64 px reset).
        """
        if self._state_id is None:
            raise RuntimeError("Simulation.restore() called before snapshot()")
        c = self.client
        if c.getNumBodies() != self._snapshot_count:
            self._late_bodies_error()
        for i, body in enumerate(self._free):
            c.resetBasePositionAndOrientation(body, [100.0 + 10.0 * i, 100.0, 100.0], [0, 0, 0, 1])
        c.performCollisionDetection()
        c.restoreState(stateId=self._state_id)
        if self.history_free and self.renderer == "tiny":
            # TinyRenderer's first image after a change of scene can carry a trace of the
            # scene it drew last (a few pixels one level apart, in a few of the recipe's
            # 48,000 images): one 1 x 1 image of the restored scene (~1 ms) makes every
            # episode's pixels those a fresh process draws, whatever this one drew before
            # (not the rarer trace that exports' alone-renders for visible fractions leave)
            c.getCameraImage(1, 1, renderer=c.ER_TINY_RENDERER, flags=c.ER_NO_SEGMENTATION_MASK)
        self.cache.clear()

    def _late_bodies_error(self) -> None:
        """PyBullet cannot restore a world whose body count changed ("Couldn't restore
        state"); say which bodies came late and what to do instead."""
        late = sorted(set(self._bodies) - set(self._snapshot_bodies))
        n = self.client.getNumBodies() - self._snapshot_count
        what = f"bodies {late}" if late else f"{n} unnamed bod{'y' if n == 1 else 'ies'}"
        raise RuntimeError(
            f"{what} were added (or removed) after the env was built, so its initial state "
            f"cannot be restored ({self._snapshot_count} bodies at the snapshot, "
            f"{self.client.getNumBodies()} now). Pass static bodies as fixtures: "
            "gym.make(id, fixtures=[FixtureSpec('tray/traybox.urdf', position=(x, y))]), or "
            "add them with env.unwrapped.scene.add_fixture(spec), which takes a new snapshot"
        )

    def set_pose(self, name: str, position: Vec, orientation: Vec = (0, 0, 0, 1)) -> None:
        """Teleport a body and zero its velocity."""
        body = self.body(name)
        self.cache.clear()
        self.client.resetBasePositionAndOrientation(body, list(position), list(orientation))
        self.client.resetBaseVelocity(body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    def pose(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Position (x, y, z) and quaternion (x, y, z, w) of a body's base."""
        pos, orn = self.client.getBasePositionAndOrientation(self.body(name))
        return np.asarray(pos), np.asarray(orn)

    def step(self) -> None:
        """Advance the physics by one env step (``n_substeps`` simulation steps)."""
        self.cache.clear()
        step = self.client.stepSimulation
        for _ in range(self.physics.n_substeps):
            step()

    def close(self) -> None:
        """Disconnect; safe to call twice."""
        if not self._closed:
            self._closed = True
            try:
                if self._egl_plugin is not None:
                    with quiet_stdout():
                        self.client.unloadPlugin(self._egl_plugin)
                self.client.disconnect()
            except pybullet.error:
                pass
