"""Spaces recorded as plain data round-trip, and a checkpoint whose recorded spaces differ
from the env's is refused before any weights are read."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest

from agents.policies.contract import PolicyError, PolicyMeta, PolicyMismatchError
from agents.policies.spaces import check_spaces, space_from_dict, space_to_dict

STATE = gym.spaces.Box(-np.inf, np.inf, (13,), np.float32)
ACTION = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
IMAGE = gym.spaces.Box(0, 255, (48, 48, 3), np.uint8)


def _meta(obs: gym.Space, act: gym.Space) -> PolicyMeta:
    extra = {"observation_space": space_to_dict(obs), "action_space": space_to_dict(act)}
    return PolicyMeta(kind="sb3", algo="sac", env_id="domrand/Push-v0", extra=extra)


def test_round_trip_through_json() -> None:
    uneven = gym.spaces.Box(np.array([0.0, -1.0]), np.array([1.0, 2.0]), dtype=np.float64)
    both = gym.spaces.Dict({"state": STATE, "rgb": IMAGE})
    for space in (STATE, ACTION, IMAGE, uneven, both):
        assert space_from_dict(json.loads(json.dumps(space_to_dict(space)))) == space
    assert space_to_dict(ACTION)["low"] == -1.0  # equal bounds are stored as one number
    with pytest.raises(PolicyError, match="only Box and Dict of Box"):
        space_to_dict(gym.spaces.Discrete(3))
    with pytest.raises(PolicyError, match="unknown recorded space type 'Tuple'"):
        space_from_dict({"type": "Tuple"})


def test_check_spaces_refuses_other_shapes() -> None:
    check_spaces(_meta(STATE, ACTION), STATE, ACTION)
    # SB3 records images channels-first; the env's are channels-last: the same
    chw = gym.spaces.Box(0, 255, (3, 48, 48), np.uint8)
    check_spaces(_meta(chw, ACTION), IMAGE, ACTION)
    with pytest.raises(PolicyMismatchError, match=r"observation_space \(13,\).*has \(10,\)"):
        check_spaces(_meta(STATE, ACTION), gym.spaces.Box(-1, 1, (10,)), ACTION)
    with pytest.raises(PolicyMismatchError, match=r"'ckpt' was trained with action_space \(3,\)"):
        check_spaces(_meta(STATE, ACTION), STATE, gym.spaces.Box(-1, 1, (4,)), where="'ckpt'")
    # a meta without recorded spaces (behaviour cloning) passes
    check_spaces(PolicyMeta(kind="bc", algo="bc", env_id="domrand/Push-v0"), STATE, ACTION)
