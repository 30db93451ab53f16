"""Automatic domain randomization driven by a synthetic performance signal."""

from __future__ import annotations

import numpy as np
import pytest

from randomizers import PresetError, load_preset
from randomizers.adr import ADR

PRESET = {"physics": {"mass": [0.5, 2.0], "lateral_friction": [0.2, 1.8]}}


def _run(adr: ADR, perf, episodes: int, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    entropies = []
    for _ in range(episodes):
        params, boundary = adr.sample(rng)
        adr.update(boundary, perf(params))
        entropies.append(adr.entropy())
    return entropies


def test_ranges_grow_to_where_the_task_stays_solvable() -> None:
    adr = ADR(load_preset(PRESET), ["physics/mass"], initial={"physics/mass": 1.0})
    assert adr.ranges() == {"physics/mass": (1.0, 1.0)}

    def easy(params) -> float:  # succeeds while the mass scale is within [0.7, 1.6]
        return float(0.7 <= params["physics"]["mass"] <= 1.6)

    entropies = _run(adr, easy, 3000)
    low, high = adr.ranges()["physics/mass"]
    step = 0.05 * 1.5
    assert 0.7 - step - 1e-9 <= low <= 0.7 + step
    assert 1.6 - step <= high <= 1.6 + step + 1e-9
    assert entropies[-1] > entropies[0]


def test_ranges_shrink_when_the_task_fails() -> None:
    adr = ADR(load_preset(PRESET), initial={"physics/mass": [0.5, 2.0],
                                            "physics/lateral_friction": [0.2, 1.8]})  # fmt: skip
    start = adr.entropy()
    _run(adr, lambda params: 0.0, 2000)
    for low, high in adr.ranges().values():
        assert high - low < 0.1
    assert adr.entropy() < start


def test_samples_respect_current_ranges_and_pin_boundaries() -> None:
    adr = ADR(load_preset(PRESET), initial={"physics/mass": [0.9, 1.1]}, names=["physics/mass"])
    rng = np.random.default_rng(1)
    pinned = 0
    for _ in range(200):
        params, boundary = adr.sample(rng)
        m = params["physics"]["mass"]
        assert 0.9 <= m <= 1.1
        assert 0.2 <= params["physics"]["lateral_friction"] <= 1.8  # preset distribution
        if boundary is not None:
            pinned += 1
            assert m == (0.9 if boundary.side == "low" else 1.1)
    assert 60 < pinned < 140  # boundary_prob = 0.5
    assert load_preset(PRESET).validate(params) == params


def test_state_saves_and_loads(tmp_path) -> None:
    adr = ADR(load_preset(PRESET), initial={"physics/mass": 1.0})
    _run(adr, lambda p: 1.0, 300)
    path = tmp_path / "adr.json"
    adr.save(path)
    other = ADR(load_preset(PRESET), initial={"physics/mass": 1.0})
    other.load(path)
    assert other.ranges() == adr.ranges() and other.entropy() == adr.entropy()
    wrong = ADR(load_preset(PRESET), names=["physics/mass"])
    with pytest.raises(ValueError, match="ADR state is for params"):
        wrong.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read ADR state"):
        other.load(path)


def test_bad_adr_arguments() -> None:
    compose = load_preset(PRESET)
    with pytest.raises(PresetError, match="unknown or unsuitable: \\['physics/gravity'\\]"):
        ADR(compose, ["physics/gravity"])
    with pytest.raises(ValueError, match="lower_threshold < upper_threshold"):
        ADR(compose, lower_threshold=0.9, upper_threshold=0.1)
    with pytest.raises(ValueError, match=r"must lie in \[0\.5, 2\.0\]"):
        ADR(compose, initial={"physics/mass": 3.0})
