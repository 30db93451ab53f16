"""Randomizers as data: every kind's declared space, pure seeded sampling, composition."""

from __future__ import annotations

import numpy as np
import pytest

from randomizers import KINDS, Compose, PresetError, decode, encode, load_preset
from randomizers.spaces import encoded_size
from tests.randomizers.kind_presets import KIND_PRESETS


def test_every_kind_has_a_test_preset() -> None:
    assert set(KIND_PRESETS) == set(KINDS)


@pytest.mark.parametrize("kind", list(KINDS))
def test_samples_lie_in_the_declared_space(kind: str) -> None:
    r = load_preset(KIND_PRESETS[kind])
    rng = np.random.default_rng(0)
    specs = r.space()
    assert specs, f"{kind} declares no parameters"
    for _ in range(20):
        params = r.sample(rng)
        assert r.validate(params) == params
        flat = r.flatten(params)
        vec = encode(specs, flat)
        assert vec.shape == (encoded_size(specs),)
        np.testing.assert_allclose(encode(specs, decode(specs, vec)), vec)
        assert decode(specs, vec).keys() == flat.keys()


@pytest.mark.parametrize("kind", list(KINDS))
def test_sampling_is_pure_and_seeded(kind: str) -> None:
    a, b = load_preset(KIND_PRESETS[kind]), load_preset(KIND_PRESETS[kind])
    pa = a.sample(np.random.default_rng(5))
    assert pa == b.sample(np.random.default_rng(5))
    assert pa != a.sample(np.random.default_rng(6))


def test_compose_rejects_duplicate_names() -> None:
    r = load_preset(KIND_PRESETS["lighting"]).randomizers[0]
    with pytest.raises(PresetError, match="repeated: \\['lighting'\\]"):
        Compose([r, r])
