"""Image noise on rendered RGB: Gaussian noise, blur and colour jitter."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from statistics import NormalDist
from typing import Any

import numpy as np

from randomizers.base import Randomizer, draw
from randomizers.distributions import Distribution, Limits
from randomizers.gaussian_blur import gaussian_blur
from randomizers.options import dist
from randomizers.options import name as option_name
from randomizers.scene import Scene
from randomizers.spaces import ParamSpec

# option -> limits of what it samples (all absolute)
LIMITS: dict[str, Limits] = {
    "gaussian_std": Limits(0.0, 128.0, unit="std in 0-255 pixel units"),
    "blur_sigma": Limits(0.0, 10.0, unit="pixels"),
    "brightness": Limits(-1.0, 1.0, unit="added, fraction of full scale"),
    "contrast": Limits(0.0, 4.0, unit="factor"),
    "saturation": Limits(0.0, 4.0, unit="factor"),
}
_IDENTITY = {"gaussian_std": 0.0, "blur_sigma": 0.0, "brightness": 0.0, "contrast": 1.0,
             "saturation": 1.0}  # fmt: skip


@dataclass(frozen=True)
class ImageNoiseFilter:
    """The per-episode filter: deterministic given its params and the frame index."""

    gaussian_std: float
    blur_sigma: float
    brightness: float
    contrast: float
    saturation: float
    seed: int

    def __call__(self, rgb: np.ndarray, frame: int) -> np.ndarray:
        """Filter one (H, W, 3) uint8 image."""
        x = rgb.astype(np.float32)
        if self.blur_sigma > 0:
            x = gaussian_blur(x, self.blur_sigma)
        if self.saturation != 1.0:
            # elementwise, not a matrix product: the same bytes on every platform
            grey = x[..., 0] * np.float32(0.299)
            grey += x[..., 1] * np.float32(0.587)
            grey += x[..., 2] * np.float32(0.114)
            x -= grey[..., None]
            x *= np.float32(self.saturation)
            x += grey[..., None]
        # contrast about mid-grey and brightness as one affine map; +0.5 rounds on the cast
        gain = np.float32(self.contrast)
        offset = np.float32(127.5 * (1.0 - self.contrast) + 255.0 * self.brightness + 0.5)
        if gain != 1.0:
            x *= gain
        x += offset
        if self.gaussian_std > 0:
            x += gaussian_noise(self.seed, frame, x.shape) * np.float32(self.gaussian_std)
        np.clip(x, 0.0, 255.0, out=x)
        return x.astype(np.uint8)


NOISE_LEVELS = 65536  # N(0, 1) quantiles the noise bank picks from, by 16-bit random index


@cache
def normal_table() -> np.ndarray:
    """``NOISE_LEVELS`` standard-normal quantiles at (i + 0.5) / NOISE_LEVELS (float32),
    rescaled to unit variance: picked by uniform 16-bit indices they are N(0, 1) noise
    quantized finer than 0.002 std near the mean and cut at 4.3 std (p = 1.5e-5)."""
    inv = NormalDist().inv_cdf
    q = np.array([inv((i + 0.5) / NOISE_LEVELS) for i in range(NOISE_LEVELS)])
    return (q / np.sqrt(np.mean(q * q))).astype(np.float32)


BANK_BLOCK = 1 << 20  # noise values in one 4 MB block of the bank
_BANK_SEED = 20261201
_MASK64 = (1 << 64) - 1
_BANK: list[np.ndarray] = []  # the longest bank drawn so far in this process


def noise_bank(blocks: int) -> np.ndarray:
    """The first ``blocks`` x :data:`BANK_BLOCK` values of this process's bank of
    standard-normal float32 noise, drawn from a fixed stream (every process and platform
    holds the same values, whatever length was asked for first); read-only."""
    n = blocks * BANK_BLOCK
    if not _BANK or _BANK[0].size < n:
        raw = np.random.PCG64(_BANK_SEED).random_raw(n // 4)
        bank = normal_table().take(raw.astype("<u8", copy=False).view("<u2"))
        bank.flags.writeable = False
        _BANK[:] = [bank]
    return _BANK[0][:n]


def _mix64(z: int) -> int:
    """SplitMix64's step: a bijection of 64-bit integers that scatters nearby inputs."""
    z = (z + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def gaussian_noise(seed: int, frame: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard-normal float32 noise of ``shape`` for frame ``frame`` of the filter seeded
    ``seed``: a read-only window of :func:`noise_bank` at an offset hashed from the two.

    No random draws per frame (drawing them cost 3-5x more, most of it cache misses after
    each render). Each frame's window starts at its own offset, so a pixel's noise is
    independent from frame to frame (two frames share a pixel's value only if their offsets
    coincide); the bank holds at least twice the window.
    """
    n = math.prod(shape)
    bank = noise_bank(max(1, -(-2 * n // BANK_BLOCK)))
    offset = _mix64((_mix64(int(seed)) + int(frame)) & _MASK64) % (bank.size - n + 1)
    return bank[offset : offset + n].reshape(shape)


class ImageNoise(Randomizer):
    """Samples noise strength per episode; the noise itself is drawn per frame from a
    seed in the params, so a replay gives the same pixels.

    Options: ``gaussian_std`` (0-255 units), ``blur_sigma`` (pixels), ``brightness``
    (added, fraction of full scale), ``contrast`` and ``saturation`` (factors). Limits of
    each: :data:`LIMITS`.
    """

    kind = "image_noise"
    step_schedulable = True
    options = tuple(LIMITS)

    def __init__(
        self,
        quantities: Mapping[str, Distribution] | None = None,
        *,
        name: str | None = None,
        every_n_steps: int | None = None,
    ) -> None:
        super().__init__(name=name, every_n_steps=every_n_steps)
        q = {k: Distribution("constant", low=v, high=v) for k, v in _IDENTITY.items()}
        q.update(quantities or {})
        self.quantities = q

    @classmethod
    def _from_options(cls, config: dict[str, Any], where: str) -> Randomizer:
        q = {}
        for key, limits in LIMITS.items():
            d = dist(config, key, where, limits=limits, modes=("absolute",))
            if d is not None:
                q[key] = d
        return cls(q, name=option_name(config, where), every_n_steps=config.get("every_n_steps"))

    def space(self) -> list[ParamSpec]:
        return [d.spec(k) for k, d in self.quantities.items()] + [
            ParamSpec("seed", "integer", 0, 2**31 - 1)
        ]

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        params: dict[str, Any] = {k: float(draw(d, rng)) for k, d in self.quantities.items()}
        params["seed"] = int(rng.integers(0, 2**31 - 1))
        return params

    def apply(self, scene: Scene, params: Mapping[str, Any]) -> None:
        identity = all(params[k] == v for k, v in _IDENTITY.items())
        scene.effects.image_filter = None if identity else ImageNoiseFilter(**params)
