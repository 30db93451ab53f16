"""Image noise: the table-based Gaussian noise has the statistics of ``standard_normal``
noise (what the filter drew before), replays exactly, and its bytes are pinned."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from randomizers.image_noise import (
    NOISE_LEVELS,
    ImageNoiseFilter,
    frame_bits,
    gaussian_noise,
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
    z = gaussian_noise(frame_bits(0, 0), (400, 500, 3)).astype(np.float64).ravel()
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
        return gaussian_noise(frame_bits(seed, frame), (5, 7, 3)).tobytes()

    a = gaussian_noise(frame_bits(7, 3), (5, 7, 3))
    assert a.shape == (5, 7, 3) and a.dtype == np.float32
    assert noise(7, 3) == a.tobytes()  # the reused generator is fully reset
    streams = {noise(seed, frame) for seed in (0, 1, 7, 2**31 - 2) for frame in (0, 1, 3, 10**6)}
    assert len(streams) == 16


def test_noise_streams_are_per_thread() -> None:
    """Each thread sets its own generator, so filters in threads cannot mix streams."""
    import threading

    expected = {i: gaussian_noise(frame_bits(i, 0), (64, 64, 3)).tobytes() for i in range(8)}
    got: dict[int, bytes] = {}

    def work(i: int) -> None:
        for _ in range(20):
            got[i] = gaussian_noise(frame_bits(i, 0), (64, 64, 3)).tobytes()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == expected


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
    assert hashlib.sha256(out.tobytes()).hexdigest()[:16] == "768b5443adb19fa1"


def test_seed_types_of_a_replay_give_the_same_pixels() -> None:
    """Params come back from JSON or validation as int, float or NumPy integers."""
    rgb = np.full((8, 8, 3), 100, dtype=np.uint8)
    outs = {
        ImageNoiseFilter(5.0, 0.0, 0.0, 1.0, 1.0, seed=s)(rgb, f).tobytes()  # type: ignore[arg-type]
        for s, f in ((12345, 2), (12345.0, 2), (np.int64(12345), np.int64(2)))
    }
    assert len(outs) == 1
