"""The Gymnasium env that joins a :class:`TableScene`, a :class:`Task` and a :class:`Camera`."""

from __future__ import annotations

import hashlib
import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.camera import Camera, CameraConfig
from envs.cameras import EnvCameras, camera_configs, camera_shapes
from envs.env_checks import (
    action_values,
    check_configs,
    check_modes,
    check_task_kwargs,
    episode_steps,
    replay_params,
    reset_options,
)
from envs.events import EventTracker
from envs.fixtures import FixtureSpec
from envs.robot import ControlConfig
from envs.robots import RobotConfig
from envs.scene import TableScene, Workspace
from envs.sim import PhysicsConfig
from envs.tasks.base import REWARD_TYPES, Task
from randomizers.compose import Compose, ParamGroup

OBS_MODES: tuple[str, ...] = ("state", "rgb", "rgbd", "state+rgb")
RENDER_MODES: tuple[str, ...] = ("rgb_array", "human")
TASK_KEY = "task"  # params["task"]: the task's initial state, next to the randomizers' params
MAX_IMAGE_SIZE = 2048  # px per side: TinyRenderer needs ~50 s and 5 GB for one 10,000 px frame


class StepBeforeResetError(gym.error.ResetNeeded, ValueError):
    """``step`` (or ``render``) was called before the first ``reset``."""


class NonFiniteError(FloatingPointError):
    """An observation or reward became NaN or infinite; the message holds the episode's params."""


def _canonical(value: Any) -> Any:
    """Params with every number as a float: sampled params (ints where a choice gave ints)
    and the same params replayed (validated: floats) hash alike."""
    if isinstance(value, Mapping):
        return {k: _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    return float(value)


class PandaTaskEnv(gym.Env):
    """A Franka Panda at a table, rendered by PyBullet; subclasses fix ``task_cls``.

    Args:
        obs_mode: ``"state"`` (flat float32 vector, see the task's ``state_names``),
            ``"rgb"`` (uint8 image H x W x 3), ``"rgbd"`` (dict: ``rgb`` and metric
            ``depth`` H x W x 1 float32) or ``"state+rgb"`` (dict: ``state`` and ``rgb``).
        image_size: observation image size, ``N`` or ``(height, width)``, for every camera;
            ``None``: 128 for ``camera``, each camera's own width and height for ``cameras``.
        reward_type: ``"dense"`` or ``"sparse"``.
        max_episode_steps: time limit (``None``: the task's default); emits ``timeout``.
        render_mode: ``"rgb_array"`` or ``"human"`` (PyBullet GUI when a display exists).
        render_size: size of ``render()`` frames (``None``: same as ``image_size``).
        camera: camera pose and optics; its width and height are replaced by ``image_size``.
        cameras: named cameras instead, ``{name: CameraConfig}``, fixed or on a robot link
            (``mount``); the first is the main one (``render()``, labels). With several, each
            image of an observation is a dict by camera name (:mod:`envs.cameras`).
        physics: simulation timing. control: action scaling and motor forces.
        randomization: ``None`` (nominal scene), a preset name (``"tobin"``, ``"physics"``,
            ``"target"``, ...), a path to a YAML preset, a preset dict, or a
            :class:`randomizers.Randomizer`. Params are resampled on every reset (and every
            N steps for kinds scheduled so); ``info["randomization"]`` holds them, plus the
            task's initial state under ``"task"``, and
            ``reset(seed=any, options={"randomization": params})`` replays the episode
            exactly whatever the seed (its noise draws from a hash of the params).
        terminate_on_success: end the episode on the first successful step.
        task_kwargs: extra keyword arguments for the task (thresholds, heights).
        visual_detail: ``"low"`` (default: the robot's collision meshes as visuals, about
            10x faster to render at 64 px) or ``"full"`` (the stock visual meshes).
        renderer: ``"tiny"`` (TinyRenderer, CPU, everywhere) or ``"egl"`` (PyBullet's EGL
            plugin: hardware OpenGL on a GPU, Mesa's software OpenGL otherwise; falls back to
            ``"tiny"`` with a warning when unavailable). Shading differs between the two.
        robot: ``"panda"`` (default), ``"xarm6"``, ``"kuka"`` or an
            :class:`envs.robots.RobotConfig` (see ``envs/robots``).
        fixtures: static bins, shelves, walls: a list of :class:`envs.fixtures.FixtureSpec`
            (or dicts of its fields), part of the initial world every reset restores.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 24}
    task_cls: ClassVar[type[Task]]

    def __init__(
        self,
        *,
        obs_mode: str = "state",
        image_size: int | tuple[int, int] | None = None,
        reward_type: str = "dense",
        max_episode_steps: int | None = None,
        render_mode: str | None = None,
        render_size: int | tuple[int, int] | None = None,
        camera: CameraConfig | None = None,
        cameras: Mapping[str, CameraConfig] | None = None,
        physics: PhysicsConfig | None = None,
        control: ControlConfig | None = None,
        workspace: Workspace | None = None,
        randomization: Any = None,
        terminate_on_success: bool = True,
        task_kwargs: Mapping[str, Any] | None = None,
        visual_detail: str = "low",
        renderer: str = "tiny",
        robot: str | RobotConfig | None = None,
        fixtures: Sequence[FixtureSpec | Mapping[str, Any]] | None = None,
    ) -> None:
        check_modes(obs_mode, reward_type, render_mode, obs_modes=OBS_MODES,
                    reward_types=REWARD_TYPES, render_modes=RENDER_MODES)  # fmt: skip
        configs = camera_configs(camera, cameras)
        default = 128 if cameras is None else None  # cameras: each its own size
        shapes, render_shape = camera_shapes(
            configs, image_size if image_size is not None else default, render_size, MAX_IMAGE_SIZE
        )
        max_episode_steps = episode_steps(
            max_episode_steps, self.task_cls.default_max_episode_steps
        )
        check_configs([
            ("camera", camera, CameraConfig), ("physics", physics, PhysicsConfig),
            ("control", control, ControlConfig), ("workspace", workspace, Workspace),
        ])  # fmt: skip
        check_task_kwargs(self.task_cls, task_kwargs)
        from randomizers.presets import build_randomizer

        randomizer = build_randomizer(randomization)
        if randomizer is not None and not isinstance(randomizer, Compose):
            randomizer = Compose([randomizer])
        if randomizer is not None and TASK_KEY in [r.name for r in randomizer.randomizers]:
            raise ValueError(
                f"a randomizer may not be named {TASK_KEY!r}: params[{TASK_KEY!r}] holds the "
                "task's initial state; rename it"
            )
        self.randomizer: Compose | None = randomizer
        self._step_schedule = randomizer is not None and randomizer.has_step_schedule

        self.obs_mode = obs_mode
        self.reward_type = reward_type
        self.max_episode_steps = max_episode_steps
        self.render_mode = render_mode
        self.terminate_on_success = terminate_on_success

        self.scene = TableScene(
            physics, control, workspace, gui=render_mode == "human",
            visual_detail=visual_detail, renderer=renderer, robot=robot, fixtures=fixtures,
        )  # fmt: skip
        try:
            self.task = self.task_cls(self.scene, **dict(task_kwargs or {}))
            self.robot = self.scene.robot
            target = self.task.target_body()
            self.scene.roles["target"] = [target]
            self.scene.roles["objects"] = [n for n in self.task.objects if n != target]
            self.cams = EnvCameras(self.scene, configs, shapes, render_shape)
            self.cameras: dict[str, Camera] = self.cams.cameras
            self.camera: Camera = self.cameras[self.cams.main]
            self.render_camera: Camera = self.cams.render_camera
            if self.scene.sim.is_gui:
                c = self.camera.config
                self.scene.client.resetDebugVisualizerCamera(1.6, 90, -35, list(c.target))
            if self.randomizer is not None:
                self.randomizer.setup(self.scene)  # pools and texture slots, before the snapshot
            self.scene.sim.snapshot()
        except BaseException:
            self.scene.sim.close()  # a failed construction leaves no PyBullet client behind
            raise

        n_act = 4 if self.task_cls.uses_gripper else 3
        self._n_actions = n_act
        self.action_space = spaces.Box(-1.0, 1.0, (n_act,), dtype=np.float32)
        n_state = len(self.task_cls.state_names)
        state_space = spaces.Box(-np.inf, np.inf, (n_state,), dtype=np.float32)
        self.observation_space: spaces.Space = self.cams.spaces(obs_mode, state_space)

        self.events = EventTracker()
        self.randomization: dict[str, Any] = {}
        self._noise_rng: np.random.Generator | None = None
        self._elapsed = 0
        self._needs_reset = True
        self._last_frame: np.ndarray | None = None
        self._pending: deque[list[float]] = deque()
        self._closed = False

    # -- gymnasium API ------------------------------------------------------------------
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode: restore the initial world, place task objects, randomize."""
        super().reset(seed=seed)
        replay = reset_options(options)
        if replay is not None:
            replay = replay_params(replay, self.randomizer, self.task.state_space(), TASK_KEY)

        self.scene.sim.restore()
        self.scene.reset_effects()
        self.robot.reset(finger_width=self.robot.max_width if self.task_cls.uses_gripper else 0.0)
        # draw both even when replaying, so the generator ends in the same state whatever
        # was replayed; what the episode then draws comes from the params (see noise_rng)
        task_state = self.task.sample_state(self.np_random)
        params = self.randomizer.sample(self.np_random) if self.randomizer is not None else {}
        if replay is not None:
            task_state = replay.get(TASK_KEY, task_state)
            params = {k: v for k, v in replay.items() if k != TASK_KEY}
        self.task.apply_state(task_state)
        if self.randomizer is not None:
            self.randomizer.apply(self.scene, params)
            self.task.after_randomization()
        self.randomization = {**params, TASK_KEY: task_state}
        self._noise_rng = None
        self.events.reset()
        self._elapsed = 0
        self._needs_reset = False
        self._last_frame = None
        latency = self.scene.effects.action_latency
        self._pending = deque([[0.0] * self._n_actions] * latency)
        obs = self._observation()
        info = {
            "is_success": False,
            "events": [],
            "randomization": self.randomization,
            "camera": self.camera.info(),
        }
        if self.cams.multi:
            info["cameras"] = self.cams.info()
        return obs, info

    def episode_space(self) -> Compose:
        """Every param of an episode: the randomizers' and the task's initial state
        (``task/cube.x``, ...), for encoding whole episodes (SMOTE, ADR)."""
        children = list(self.randomizer.randomizers) if self.randomizer is not None else []
        return Compose([*children, ParamGroup(TASK_KEY, self.task.state_space())])

    @property
    def noise_rng(self) -> np.random.Generator:
        """The episode's generator for action and observation noise and per-step
        randomization: seeded by a hash of the params, so params alone replay an episode."""
        if self._noise_rng is None:
            text = json.dumps(_canonical(self.randomization), sort_keys=True)
            digest = hashlib.sha256(text.encode()).digest()
            self._noise_rng = np.random.default_rng(int.from_bytes(digest[:16], "little"))
        return self._noise_rng

    def _non_finite(self, what: str) -> NonFiniteError:
        text = json.dumps(self.randomization, sort_keys=True, default=str)
        return NonFiniteError(
            f"{what} is NaN or infinite at step {self._elapsed}; the physics of this episode "
            f"diverged (check the preset's physics and noise ranges). Episode params: {text}"
        )

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply one end-effector action, advance the physics, report reward and events."""
        if self._needs_reset:
            raise StepBeforeResetError(
                "step() called before reset() or after the episode ended; call env.reset() first"
            )
        values = action_values(action, self.action_space.shape or ())
        fx = self.scene.effects
        if fx.action_latency:
            self._pending.append(values)
            values = self._pending.popleft()
        if fx.action_noise:
            values = (
                np.asarray(values) + self.noise_rng.normal(0, fx.action_noise, len(values))
            ).tolist()
        values = [-1.0 if v < -1.0 else 1.0 if v > 1.0 else v for v in values]
        width = None
        if self.task_cls.uses_gripper:
            width = (values[3] + 1.0) * self.robot.max_finger
        self.robot.apply_action(values, width)
        self.scene.sim.step()
        self._elapsed += 1
        self._last_frame = None

        success = self.task.is_success()
        events = self.events.update(self.task.conditions(success))
        reward = self.task.reward(self.reward_type, success)
        if not math.isfinite(reward):
            raise self._non_finite("the reward")
        terminated = (success and self.terminate_on_success) or "object_off_table" in events
        truncated = not terminated and self._elapsed >= self.max_episode_steps
        if truncated:
            events.append("timeout")
            self.events.fire("timeout")
        if terminated or truncated:
            self._needs_reset = True
        info = {
            "is_success": success,
            "events": events,
            "episode_events": dict(self.events.counts),
        }
        if self._step_schedule:
            assert self.randomizer is not None
            update = self.randomizer.step_update(self.scene, self.noise_rng, self._elapsed)
            if update:
                info["randomization_update"] = update
        return self._observation(), float(reward), bool(terminated), bool(truncated), info

    def render(self) -> np.ndarray | None:
        """``rgb_array``: an (H, W, 3) uint8 frame from the env camera at ``render_size``."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        if self.render_mode == "human":
            return None
        if self._last_frame is not None and self.render_camera is self.camera:
            return self._last_frame.copy()
        frame = self.render_camera.render(rgb=True).rgb
        assert frame is not None
        return self._filter(frame)

    def _filter(self, rgb: np.ndarray) -> np.ndarray:
        f = self.scene.effects.image_filter
        return rgb if f is None else f(rgb, self._elapsed)

    def close(self) -> None:
        """Disconnect the physics client; safe to call more than once."""
        if not self._closed:
            self._closed = True
            self.scene.sim.close()

    # -- helpers --------------------------------------------------------------------------
    def state(self) -> np.ndarray:
        """The flat state vector (float32), whatever the observation mode."""
        pos, vel, _ = self.robot._ee_pose()
        state = np.array(
            [*pos, *vel, self.robot.finger_width(), *self.task.observation()], dtype=np.float32
        )
        noise = self.scene.effects.observation_noise
        if noise:
            state += self.noise_rng.normal(0.0, noise, state.shape).astype(np.float32)
        if not np.isfinite(state).all():
            bad = [
                n for n, v in zip(self.task.state_names, state, strict=True) if not np.isfinite(v)
            ]
            raise self._non_finite(f"the state ({', '.join(bad)})")
        return state

    def _observation(self) -> Any:
        mode = self.obs_mode
        if mode == "state":
            return self.state()
        if self.cams.multi:
            return self._observations(mode)
        frame = self.camera.render(rgb=True, depth=mode == "rgbd")
        frame.rgb = self._filter(frame.rgb)  # type: ignore[arg-type]
        self._last_frame = frame.rgb
        if mode == "rgb":
            return frame.rgb
        if mode == "rgbd":
            assert frame.depth is not None
            return {"rgb": frame.rgb, "depth": frame.depth[:, :, None]}
        return {"state": self.state(), "rgb": frame.rgb}

    def _observations(self, mode: str) -> Any:
        """An image observation of several cameras: each image a dict by camera name."""
        frames = {n: cam.render(rgb=True, depth=mode == "rgbd") for n, cam in self.cameras.items()}
        rgb = {n: self._filter(f.rgb) for n, f in frames.items()}  # type: ignore[arg-type]
        self._last_frame = rgb[self.cams.main]
        if mode == "rgb":
            return rgb
        if mode == "rgbd":
            depth = {n: f.depth[:, :, None] for n, f in frames.items()}  # type: ignore[index]
            return {"rgb": rgb, "depth": depth}
        return {"state": self.state(), "rgb": rgb}

    def privileged_state(self) -> dict[str, np.ndarray]:
        """Exact robot, object and goal state (what scripted experts read)."""
        return self.task.privileged_state()

    def render_labels(self, camera: str | None = None) -> dict[str, np.ndarray]:
        """RGB, metric depth and per-body segmentation from camera ``camera`` (default: the
        main observation camera)."""
        cam = self.camera if camera is None else self.cams[camera]
        frame = cam.render(rgb=True, depth=True, segmentation=True)
        assert frame.rgb is not None and frame.depth is not None and frame.segmentation is not None
        return {"rgb": frame.rgb, "depth": frame.depth, "segmentation": frame.segmentation}

    @property
    def elapsed_steps(self) -> int:
        """Steps taken in the current episode."""
        return self._elapsed
