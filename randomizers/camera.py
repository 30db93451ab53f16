"""Camera pose and optics: eye and look-at jitter, roll, field-of-view scale, applied to the
env's main camera or to the cameras a preset names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.errors import PresetError
from randomizers.options import dist, dist_vector
from randomizers.options import name as option_name
from randomizers.scene import CameraView, Scene
from randomizers.spaces import ParamSpec

CAMERAS_KEY = "cameras"  # scene.store[CAMERAS_KEY]: the env's named cameras (a CameraRig)
NOMINAL_KEY = "camera/nominal"  # the main camera's nominal config (other cameras: "/<name>")
_ZERO = Distribution("constant")
MAX_FOV = 170.0  # degrees: the widest field of view a randomized camera may reach
# option -> limits of what it samples (all absolute): jitter around the env's camera; to
# move the camera further, give the env another camera (``camera=CameraConfig(...)``)
LIMITS: dict[str, Limits] = {
    "eye_offset": Limits(-0.25, 0.25, unit="m per axis"),
    "target_offset": Limits(-0.25, 0.25, unit="m per axis"),
    "roll": Limits(-180.0, 180.0, unit="degrees"),
    "fov_scale": Limits(0.2, 3.0, unit="x nominal field of view"),
}


class CameraRig(Protocol):
    """The env's named cameras as a camera randomizer sees them (``scene.store["cameras"]``)."""

    @property
    def names(self) -> list[str]:
        """Camera names, the main camera first."""

    def view(self, name: str) -> CameraView:
        """Camera ``name``'s current pose and optics (a frozen ``CameraConfig``)."""

    def set_view(self, name: str, config: Any) -> None:
        """Move camera ``name`` alone to ``config``."""


class CameraPose(Randomizer):
    """Offsets nominal cameras (captured once per scene); K and the extrinsics follow.

    Options: ``eye_offset`` and ``target_offset`` (metres; one distribution for all three
    axes or a list of three), ``roll`` (degrees), ``fov_scale``. Limits of each:
    :data:`LIMITS`. ``cameras``: the names of the env cameras to move (default: the main
    camera); each gets the same draw, in its own frame (a mounted camera's offsets are in its
    link's frame); for independent draws, compose one ``CameraPose(cameras=[name], name=...)``
    per camera. The other cameras are left alone. When the env is built, the ranges
    are also checked against each nominal camera: no offset may put the eye on the target or
    straight along the up vector (a degenerate view), and the field of view stays at most
    170 degrees.
    """

    kind = "camera"
    step_schedulable = True
    options = ("eye_offset", "target_offset", "roll", "fov_scale", "cameras")

    def __init__(
        self,
        *,
        eye_offset: list[Distribution] | None = None,
        target_offset: list[Distribution] | None = None,
        roll: Distribution | None = None,
        fov_scale: Distribution | None = None,
        cameras: Sequence[str] | None = None,
        name: str | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name=name, every_n_steps=every_n_steps)
        self.cameras = None if cameras is None else tuple(cameras)
        self.eye_offset = eye_offset or [_ZERO] * 3
        self.target_offset = target_offset or [_ZERO] * 3
        self.roll = roll or _ZERO
        self.fov_scale = fov_scale or Distribution("constant", low=1.0, high=1.0)

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        absolute = ("absolute",)
        return cls(
            eye_offset=dist_vector(config, "eye_offset", where, 3, limits=LIMITS["eye_offset"],
                                   modes=absolute),
            target_offset=dist_vector(config, "target_offset", where, 3,
                                      limits=LIMITS["target_offset"], modes=absolute),
            roll=dist(config, "roll", where, 0.0, limits=LIMITS["roll"], modes=absolute),
            fov_scale=dist(config, "fov_scale", where, 1.0, limits=LIMITS["fov_scale"],
                           modes=absolute),
            cameras=_camera_names(config, where),
            name=option_name(config, where),
            every_n_steps=config.get("every_n_steps"),
        )  # fmt: skip

    @staticmethod
    def _box(ds: list[Distribution], name: str) -> ParamSpec:
        bounds = [d.spec(name).bounds for d in ds]
        return ParamSpec(
            name, "continuous", min(b[0] for b in bounds), max(b[1] for b in bounds), size=3
        )

    def space(self) -> list[ParamSpec]:
        return [
            self._box(self.eye_offset, "eye_offset"),
            self._box(self.target_offset, "target_offset"),
            self.roll.spec("roll"),
            self.fov_scale.spec("fov_scale"),
        ]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {
            "eye_offset": [float(draw(d, rng)) for d in self.eye_offset],
            "target_offset": [float(draw(d, rng)) for d in self.target_offset],
            "roll": float(draw(self.roll, rng)),
            "fov_scale": float(draw(self.fov_scale, rng)),
        }

    def _rig(self, scene: Scene) -> CameraRig:
        rig = scene.store.get(CAMERAS_KEY)
        if rig is None:
            raise PresetError(
                f"{self.name}.cameras: this scene has no named cameras; drop the option"
            )
        return rig  # type: ignore[no-any-return]

    def _targets(self, scene: Scene) -> list[tuple[str, str | None]]:
        """(store key of the nominal config, camera name or None for the main camera)."""
        if self.cameras is None:
            return [(NOMINAL_KEY, None)]
        names = self._rig(scene).names
        return [(NOMINAL_KEY if n == names[0] else f"{NOMINAL_KEY}/{n}", n) for n in self.cameras]

    def setup(self, scene: Scene) -> None:
        if self.cameras is None:
            self.check_against(scene.store.setdefault(NOMINAL_KEY, scene.camera_config))
            return
        rig = self._rig(scene)
        unknown = [n for n in self.cameras if n not in rig.names]
        if unknown:
            raise PresetError(
                f"{self.name}.cameras: unknown camera(s) {unknown}; this env's cameras: "
                f"{', '.join(rig.names)}"
            )
        for key, camera in self._targets(scene):
            assert camera is not None
            self.check_against(scene.store.setdefault(key, rig.view(camera)))

    def check_against(self, nominal: CameraView) -> None:
        """Raise :class:`PresetError` if some sampled params would break ``nominal`` (a
        ``CameraConfig``): a view along the up vector (or the eye on the target) has no
        orientation, and a field of view past 170 degrees is no pinhole camera."""
        fov_high = nominal.fov * self.fov_scale.bounds[1]
        if fov_high > MAX_FOV:
            raise PresetError(
                f"{self.name}.fov_scale: up to {self.fov_scale.bounds[1]:g} x the camera's "
                f"{nominal.fov:g} degrees gives {fov_high:g}; at most {MAX_FOV:g} degrees: "
                "lower the high end of fov_scale"
            )
        # eye - target over every sampled offset is a box; it must not meet the up line
        lo = [e - t + a.bounds[0] - b.bounds[1]
              for e, t, a, b in zip(nominal.eye, nominal.target, self.eye_offset,
                                    self.target_offset, strict=True)]  # fmt: skip
        hi = [e - t + a.bounds[1] - b.bounds[0]
              for e, t, a, b in zip(nominal.eye, nominal.target, self.eye_offset,
                                    self.target_offset, strict=True)]  # fmt: skip
        if _box_meets_line(lo, hi, nominal.up):
            raise PresetError(
                f"{self.name}: eye_offset and target_offset can move the camera's eye onto the "
                f"line through its target along up {tuple(nominal.up)} (nominal eye "
                f"{tuple(nominal.eye)}, target {tuple(nominal.target)}), where the view has no "
                "orientation; narrow the offsets"
            )

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        for key, camera in self._targets(scene):
            moved = _moved(scene.store[key], params)
            if camera is None:
                scene.set_camera(moved)
            else:
                self._rig(scene).set_view(camera, moved)


def _moved(nominal: Any, params: Mapping[str, Any]) -> Any:
    """``nominal`` (a ``CameraConfig``) offset by ``params``; a camera with focal lengths
    zooms through its ``with_fov``, keeping its principal point."""
    eye = tuple(float(a + b) for a, b in zip(nominal.eye, params["eye_offset"], strict=True))
    tgt = tuple(float(a + b) for a, b in zip(nominal.target, params["target_offset"], strict=True))
    fov = min(nominal.fov * params["fov_scale"], MAX_FOV)
    roll = nominal.roll + params["roll"]
    if getattr(nominal, "fx", None) is None and getattr(nominal, "fy", None) is None:
        # no focal lengths: with_fov would only set fov, so one copy does it all
        return replace(nominal, eye=eye, target=tgt, roll=roll, fov=fov)
    moved = replace(nominal, eye=eye, target=tgt, roll=roll)
    with_fov = getattr(moved, "with_fov", None)
    return with_fov(fov) if with_fov is not None else replace(moved, fov=fov)


def _camera_names(config: dict[str, Any], where: str) -> tuple[str, ...] | None:
    """The ``cameras`` option: a camera name or a non-empty list of distinct names."""
    value = config.get("cameras")
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, (list, tuple))
        or not value
        or not all(isinstance(v, str) and v for v in value)
        or len(set(value)) != len(value)
    ):
        raise PresetError(
            f"{where}.cameras: expected a non-empty list of distinct camera names (e.g. "
            f"[front, wrist]), got {value!r}"
        )
    return tuple(value)


def _box_meets_line(lo: list[float], hi: list[float], direction: Any, eps: float = 1e-3) -> bool:
    """Whether the box ``[lo, hi]`` (grown by ``eps``) meets the line ``s * direction``."""
    s_lo, s_hi = -np.inf, np.inf
    for a, b, u in zip(lo, hi, direction, strict=True):
        a, b = a - eps, b + eps
        if abs(u) < 1e-12:
            if not a <= 0.0 <= b:
                return False
            continue
        s0, s1 = sorted((a / u, b / u))
        s_lo, s_hi = max(s_lo, s0), min(s_hi, s1)
    return s_lo <= s_hi
