"""Memory stays flat over many randomized resets (textures and bodies are pooled)."""

from __future__ import annotations

import gc
import resource

import gymnasium as gym
import pytest


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _soak(resets: int) -> float:
    env = gym.make("domrand/Push-v0", randomization="tobin", obs_mode="rgb", image_size=64)
    env.reset(seed=0)
    for i in range(50):  # warm-up: allocator and caches settle
        env.reset(seed=i)
    gc.collect()
    start = _rss_mb()
    n_bodies = env.unwrapped.scene.client.getNumBodies()
    for i in range(resets):
        env.reset(seed=1000 + i)
    gc.collect()
    assert env.unwrapped.scene.client.getNumBodies() == n_bodies
    env.close()
    return _rss_mb() - start


def test_tobin_resets_do_not_leak() -> None:
    assert _soak(300) < 10.0


@pytest.mark.slow
def test_tobin_5000_resets_grow_less_than_30_mb() -> None:
    assert _soak(5000) < 30.0
