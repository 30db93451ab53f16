"""Image noise: the banked Gaussian noise has the statistics of ``standard_normal`` noise
(what the filter drew before), is independent from frame to frame, replays exactly, and its
bytes are pinned; the NumPy blur is a Gaussian."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from randomizers.gaussian_blur import gaussian_blur, gaussian_kernel
from randomizers.image_noise import (
    BANK_BLOCK,
    NOISE_LEVELS,
    ImageNoiseFilter,
    gaussian_noise,
    noise_bank,
    normal_table,
)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def test_table_is_a_symmetric_unit_variance_normal() -> None:
    assert normal_table().dtype == np.float32
    q = normal_table().astype(np.float64)
    assert q.shape == (NOISE_LEVELS,)
    assert np.all(np.diff(q) > 0)
    assert np.abs(q + q[::-1]).max() == 0.0  # symmetric: mean exactly 0
    assert np.mean(q * q) == pytest.approx(1.0, abs=1e-6)
    assert 4.2 < q[-1] < 4.4  # the tails are cut at p = 1.5e-5


def test_noise_has_the_statistics_of_standard_normal() -> None:
    z = gaussian_noise(0, 0, (400, 500, 3)).astype(np.float64).ravel()
    ref = np.random.default_rng(0).standard_normal(z.size)
    assert z.size == 600_000
    for sample in (z, ref):  # the same tolerances hold for both
        assert sample.mean() == pytest.approx(0.0, abs=0.005)
        assert sample.std() == pytest.approx(1.0, abs=0.003)
        assert np.mean(sample**3) == pytest.approx(0.0, abs=0.02)  # skewness
        assert np.mean(sample**4) == pytest.approx(3.0, abs=0.05)  # kurtosis
        assert np.mean(np.abs(sample) > 2.0) == pytest.approx(0.0455, abs=0.001)
        assert np.mean(np.abs(sample) > 3.0) == pytest.approx(0.0027, abs=0.0003)
    # Kolmogorov-Smirnov distance to N(0, 1) on a grid, like that of standard_normal
    grid = np.linspace(-4, 4, 161)
    ks = np.abs(np.searchsorted(np.sort(z), grid) / z.size - _normal_cdf(grid)).max()
    ks_ref = np.abs(np.searchsorted(np.sort(ref), grid) / ref.size - _normal_cdf(grid)).max()
    assert ks < 0.003 and ks_ref < 0.003
    # independent draws: no correlation between neighbours (pixels or channels)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.005


def test_noise_replays_and_differs_between_frames_and_seeds() -> None:
    def noise(seed: int, frame: int) -> bytes:
        return gaussian_noise(seed, frame, (5, 7, 3)).tobytes()

    a = gaussian_noise(7, 3, (5, 7, 3))
    assert a.shape == (5, 7, 3) and a.dtype == np.float32
    assert not a.flags.writeable  # a window of the shared bank: nobody may change it
    assert noise(7, 3) == a.tobytes()
    streams = {noise(seed, frame) for seed in (0, 1, 7, 2**31 - 2) for frame in (0, 1, 3, 10**6)}
    assert len(streams) == 16


def test_noise_is_independent_from_frame_to_frame() -> None:
    """A pixel's noise in consecutive frames is uncorrelated: each frame reads the bank at
    its own offset."""
    frames = np.stack([gaussian_noise(5, f, (64, 64, 3)).ravel() for f in range(200)])
    corr = np.corrcoef(frames)[np.triu_indices(200, k=1)]
    assert np.abs(corr).max() < 0.05  # 12,288 values a frame: |r| ~ 0.009 by chance
    assert abs(corr.mean()) < 0.002
    # averaging frames shrinks the noise as 1 / sqrt(n), as for fresh draws
    assert frames.mean(axis=0).std() == pytest.approx(1 / np.sqrt(200), rel=0.03)


def test_noise_bank_is_shared_and_grows_for_large_images() -> None:
    """One block serves images up to half its size; larger ones get a longer bank that
    starts with the shorter one (so the first block's windows never change)."""
    one, two = noise_bank(1), noise_bank(2)
    assert one.size == BANK_BLOCK and two.size == 2 * BANK_BLOCK
    assert np.array_equal(two[:BANK_BLOCK], one)
    big = gaussian_noise(3, 0, (700, 700, 3))  # 1.47 M values: a 3-block bank
    assert big.shape == (700, 700, 3) and noise_bank(3).size == 3 * BANK_BLOCK
    assert big.std() == pytest.approx(1.0, abs=0.01)


def _old_filter(f: ImageNoiseFilter, rgb: np.ndarray, frame: int) -> np.ndarray:
    """The filter as it was before the noise table (standard_normal draws)."""
    x = rgb.astype(np.float32)
    x *= np.float32(f.contrast)
    x += np.float32(127.5 * (1.0 - f.contrast) + 255.0 * f.brightness + 0.5)
    noise = np.random.default_rng([f.seed, frame]).standard_normal(x.shape, dtype=np.float32)
    x += noise * np.float32(f.gaussian_std)
    np.clip(x, 0.0, 255.0, out=x)
    return x.astype(np.uint8)


@pytest.mark.parametrize("std", [2.0, 8.0, 40.0])
def test_filtered_pixels_match_the_old_noise_in_distribution(std: float) -> None:
    """Mean, spread and the whole histogram of filtered pixels (clipping included) agree
    with the old ``standard_normal`` noise."""
    rgb = np.full((256, 256, 3), 200, dtype=np.uint8)
    rgb[:, :128] = 20
    f = ImageNoiseFilter(std, 0.0, 0.01, 1.05, 1.0, seed=11)
    new, old = f(rgb, 0).astype(np.int64), _old_filter(f, rgb, 0).astype(np.int64)
    for half in (np.s_[:, :128], np.s_[:, 128:]):
        assert new[half].mean() == pytest.approx(old[half].mean(), abs=0.03 * std + 0.02)
        assert new[half].std() == pytest.approx(old[half].std(), rel=0.02)
    h_new = np.bincount(new.ravel(), minlength=256) / new.size
    h_old = np.bincount(old.ravel(), minlength=256) / old.size
    assert np.abs(np.cumsum(h_new) - np.cumsum(h_old)).max() < 0.005


def test_filter_bytes_are_pinned() -> None:
    """Changing the noise stream changes every noisy image: update this hash on purpose
    (and say so in CHANGELOG.md), never by accident."""
    rgb = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    out = ImageNoiseFilter(6.0, 0.5, 0.02, 0.95, 1.1, seed=12345)(rgb, 3)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    assert hashlib.sha256(out.tobytes()).hexdigest()[:16] == "272fb06cb8eec19d"


def test_seed_types_of_a_replay_give_the_same_pixels() -> None:
    """Params come back from JSON or validation as int, float or NumPy integers."""
    rgb = np.full((8, 8, 3), 100, dtype=np.uint8)
    outs = {
        ImageNoiseFilter(5.0, 0.0, 0.0, 1.0, 1.0, seed=s)(rgb, f).tobytes()  # type: ignore[arg-type]
        for s, f in ((12345, 2), (12345.0, 2), (np.int64(12345), np.int64(2)))
    }
    assert len(outs) == 1


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.3])
def test_blur_is_a_gaussian_with_repeated_edges(sigma: float) -> None:
    """Against a direct 2-D convolution with the same kernel over an edge-padded image."""
    x = np.random.default_rng(1).uniform(0, 255, (21, 17, 3)).astype(np.float32)
    w = np.array(gaussian_kernel(sigma), np.float64)
    r = len(w) - 1
    k1 = np.concatenate([w[::-1], w[1:]])
    assert k1.sum() == pytest.approx(1.0, abs=1e-6)
    assert r == max(1, math.ceil(3 * sigma))
    # the taps are a Gaussian's: w[k] / w[0] = exp(-k^2 / (2 sigma^2))
    assert w[1] / w[0] == pytest.approx(math.exp(-1 / (2 * sigma * sigma)), rel=1e-5)
    p = np.pad(x.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="edge")
    ref = np.zeros_like(x, dtype=np.float64)
    for i in range(2 * r + 1):
        for j in range(2 * r + 1):
            ref += k1[i] * k1[j] * p[i : i + x.shape[0], j : j + x.shape[1]]
    out = gaussian_blur(x, sigma)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.abs(out - ref).max() < 1e-3
    flat = np.full((9, 9), 37.0, np.float32)  # a constant image stays constant
    assert np.abs(gaussian_blur(flat, sigma) - 37.0).max() < 1e-4


def test_blur_rejects_a_non_positive_sigma() -> None:
    with pytest.raises(ValueError, match=r"blur sigma must be > 0 pixels, got 0\.0"):
        gaussian_kernel(0.0)
