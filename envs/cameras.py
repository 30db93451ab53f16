"""The env's named cameras: the main one (observations, ``render()``, labels, the camera
randomizer's default target) and any others, fixed in the world or mounted on a robot link.

With one camera, image observations are arrays as they always were. With several, every
image in an observation becomes a ``Dict`` keyed by camera name (insertion order):
``obs_mode="rgb"`` gives ``{"front": rgb, "wrist": rgb}``, ``"rgbd"`` gives
``{"rgb": {name: rgb}, "depth": {name: depth}}`` and ``"state+rgb"`` gives
``{"state": state, "rgb": {name: rgb}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces

from envs.camera import Camera, CameraConfig
from envs.env_checks import image_shape
from envs.scene import TableScene
from randomizers.camera import CAMERAS_KEY

DEFAULT_CAMERA = "front"  # the name of the env's camera when one is given as ``camera=``


def camera_configs(
    camera: CameraConfig | None, cameras: Mapping[str, CameraConfig] | None
) -> dict[str, CameraConfig]:
    """The env's cameras by name from its ``camera`` or ``cameras`` argument (the first
    named camera is the main one); bad names and values fail naming them."""
    if cameras is None:
        return {DEFAULT_CAMERA: camera or CameraConfig()}
    if camera is not None:
        raise ValueError(
            "pass camera=CameraConfig(...) or cameras={name: CameraConfig(...)}, not both"
        )
    if not isinstance(cameras, Mapping) or not cameras:
        raise TypeError(
            f"cameras must be a non-empty dict of name -> CameraConfig, got {cameras!r}"
        )
    out: dict[str, CameraConfig] = {}
    for name, config in cameras.items():
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"camera names must be non-empty strings without '/', got {name!r}")
        if not isinstance(config, CameraConfig):
            raise TypeError(
                f"cameras[{name!r}] must be an envs.CameraConfig, got {type(config).__name__}"
            )
        out[name] = config
    return out


def camera_shapes(
    configs: Mapping[str, CameraConfig], image_size: Any, render_size: Any, max_side: int
) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """(height, width) of each camera's images (``image_size`` for all, or each camera's own
    when None) and of ``render()`` frames (``render_size``, or the main camera's)."""
    shapes = {
        name: image_shape(image_size, "image_size", max_side)
        if image_size is not None
        else image_shape((c.height, c.width), f"cameras[{name!r}] size", max_side)
        for name, c in configs.items()
    }
    main = next(iter(shapes.values()))
    render = main if render_size is None else image_shape(render_size, "render_size", max_side)
    return shapes, render


class EnvCameras:
    """The named cameras of one env's scene, built once.

    The main camera (the first name) and its render-size twin are the scene's cameras, so
    ``scene.set_camera`` moves them as before; the other cameras keep their own pose unless
    a camera randomizer names them. Registered in ``scene.store["cameras"]`` for the camera
    randomizer (:meth:`view`, :meth:`set_view`).

    Args:
        scene: the env's ``TableScene``.
        configs: cameras by name (see :func:`camera_configs`).
        shapes: (height, width) of each camera's images.
        render_shape: (height, width) of ``render()`` frames (main camera).
    """

    def __init__(
        self,
        scene: TableScene,
        configs: Mapping[str, CameraConfig],
        shapes: Mapping[str, tuple[int, int]],
        render_shape: tuple[int, int],
    ) -> None:
        self._scene = scene
        self.main = next(iter(configs))
        scene.camera_config = configs[self.main]
        self.cameras: dict[str, Camera] = {}
        for name, config in configs.items():
            h, w = shapes[name]
            try:
                self.cameras[name] = self._camera(config.resized(w, h), name == self.main)
            except ValueError as exc:
                raise ValueError(f"camera {name!r}: {exc}") from None
        main = self.cameras[self.main]
        self.render_camera = (
            main
            if render_shape == shapes[self.main]
            else self._camera(configs[self.main].resized(render_shape[1], render_shape[0]), True)
        )
        scene.store[CAMERAS_KEY] = self

    def _camera(self, config: CameraConfig, follows: bool) -> Camera:
        """A camera of the scene; ``follows``: one of those ``scene.set_camera`` moves."""
        s = self._scene
        if follows and config.mount is None:
            return s.add_camera(config)
        cam = Camera(s.client, config, light=s.effects.light, renderer=s.sim.renderer,
                     body=s.robot.id)  # fmt: skip
        if follows:
            s.cameras.append(cam)
        return cam

    @property
    def names(self) -> list[str]:
        """Camera names, the main one first."""
        return list(self.cameras)

    @property
    def multi(self) -> bool:
        """Whether image observations are dicts keyed by camera name."""
        return len(self.cameras) > 1

    def __getitem__(self, name: str) -> Camera:
        try:
            return self.cameras[name]
        except KeyError:
            raise KeyError(f"unknown camera {name!r}; this env's cameras: {self.names}") from None

    def view(self, name: str) -> CameraConfig:
        """The current pose and optics of camera ``name`` (the main camera's at the scene's
        nominal size)."""
        if name == self.main:
            return self._scene.camera_config
        return self[name].config

    def set_view(self, name: str, config: CameraConfig) -> None:
        """Move camera ``name`` to ``config`` (its image size is kept); the other cameras
        stay where they are."""
        if name == self.main:
            self._scene.set_camera(config)
            return
        cam = self[name]
        cam.configure(config.resized(cam.config.width, cam.config.height))

    def info(self) -> dict[str, dict[str, Any]]:
        """Intrinsics and extrinsics of every camera, by name."""
        return {name: cam.info() for name, cam in self.cameras.items()}

    def spaces(self, obs_mode: str, state_space: spaces.Box) -> spaces.Space:
        """The observation space of ``obs_mode`` (see the module docstring)."""

        def image(channels: int, low: float, high: float, dtype: Any) -> spaces.Space:
            boxes: dict[str, spaces.Space] = {
                n: spaces.Box(low, high, (c.config.height, c.config.width, channels), dtype=dtype)
                for n, c in self.cameras.items()
            }
            return spaces.Dict(boxes) if self.multi else boxes[self.main]

        rgb = image(3, 0, 255, np.uint8)
        if obs_mode == "state":
            return state_space
        if obs_mode == "rgb":
            return rgb
        if obs_mode == "rgbd":
            return spaces.Dict({"rgb": rgb, "depth": image(1, 0.0, np.inf, np.float32)})
        return spaces.Dict({"state": state_space, "rgb": rgb})
