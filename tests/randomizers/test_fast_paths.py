"""The per-reset fast paths give what the plain code gave: ``draw`` the values of
``Distribution.sample`` from the same generator state, the constant-tint shortcut the
stacked tints, and distractor parking the same scene as re-parking the whole pool."""

from __future__ import annotations

import numpy as np
import pytest

from randomizers.base import draw
from randomizers.distributions import Distribution
from randomizers.texture import sample_appearances

DISTS = [
    Distribution("uniform", low=-0.05, high=0.05),
    Distribution("uniform", low=0, high=360),  # integer bounds, as a YAML preset gives them
    Distribution("uniform", low=0.7, high=0.7),
    Distribution("choice", values=(0.0, 0.0, 0.5, 1.0)),
    Distribution("choice", values=tuple(range(11))),
    Distribution("choice", values=(0.0, 1.0), p=(0.8, 0.2)),  # weighted: the plain path
    Distribution("log_uniform", low=0.1, high=10.0),
    Distribution("normal", mean=1.0, std=0.1, low=0.7, high=1.3),
    Distribution("constant", low=2.5, high=2.5),
]


@pytest.mark.parametrize("d", DISTS, ids=lambda d: f"{d.dist}-{d.low}-{d.high}")
def test_draw_is_sample_bit_for_bit(d: Distribution) -> None:
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(2000):
        x, y = draw(d, a), d.sample(b)
        assert x == y and type(x) is type(y)
    assert a.random() == b.random()  # and the generators end in the same state


def test_constant_tint_shortcut_matches_stacked_tints() -> None:
    class Bank:
        bank_size = 64

    for lows in ([1.0, 1.0, 1.0], [1, 0.5, 1], [1, 1, 1]):
        tint = [Distribution("constant", low=v, high=v) for v in lows]
        prefixes = [f"slot{i}" for i in range(7)]
        got = sample_appearances(np.random.default_rng(0), prefixes, Bank(), tint)  # type: ignore[arg-type]
        rng = np.random.default_rng(0)
        textures = rng.integers(64, size=7).tolist()
        stacked = np.stack([d.sample_n(rng, 7) for d in tint], axis=1).tolist()
        for i, p in enumerate(prefixes):
            assert got[f"{p}.texture"] == textures[i]
            assert got[f"{p}.tint"] == stacked[i]
            assert [type(v) for v in got[f"{p}.tint"]] == [type(v) for v in stacked[i]]
        assert got["slot0.tint"] is not got["slot1.tint"]  # a list each, not one shared


def test_unused_distractors_stay_parked_and_transparent(make_env) -> None:
    """Only the bodies the last reset placed get re-parked; every other pool body is still
    parked (far under the floor) and fully transparent after many resets."""
    env = make_env("domrand/Push-v0", randomization="tobin")
    pool = env.scene.store["distractors/pool"]
    c = env.scene.client
    for seed in range(40):
        _, info = env.reset(seed=seed)
        p = info["randomization"]["distractors"]
        placed = {pool[p[f"slot{i}.body"]]["name"] for i in range(p["count"])}
        assert [e["name"] for e in env.scene.store["distractors/placed"]] == [
            e["name"] for e in pool if e["name"] in placed
        ]
        for entry in pool:
            pos = c.getBasePositionAndOrientation(entry["body"])[0]
            alpha = c.getVisualShapeData(entry["body"])[0][7][3]
            if entry["name"] in placed:
                assert alpha == 1.0 and pos[2] > env.scene.table_top - 0.05
            else:
                assert alpha == 0.0 and pos[1] > 19.0 and pos[2] < -4.0, entry["name"]
