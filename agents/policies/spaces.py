"""Observation and action spaces as plain JSON data, and the check that a checkpoint's
recorded spaces fit an env.

An SB3 checkpoint records its spaces in ``domrand.json`` so that loading it needs no
pickle (:mod:`agents.policies.sb3`) and a rollout can refuse a policy whose input or output
shapes differ from the env's before any weights are read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from agents.policies.contract import (
    META_MEMBER,
    PolicyError,
    PolicyMeta,
    PolicyMismatchError,
    one_line,
)


def space_to_dict(space: gym.Space) -> dict[str, Any]:
    """A ``Box`` or ``Dict`` of ``Box`` as JSON-ready data (so loading needs no pickle)."""
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": np.dtype(space.dtype).name,
            "low": _bound(space.low),
            "high": _bound(space.high),
        }
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_dict(s) for k, s in space.spaces.items()}}
    raise PolicyError(f"cannot record a {type(space).__name__} space; only Box and Dict of Box")


def space_from_dict(data: Mapping[str, Any]) -> gym.Space:
    """Inverse of :func:`space_to_dict`."""
    kind = data.get("type")
    if kind == "Box":
        dtype = np.dtype(data["dtype"])
        shape = tuple(int(s) for s in data["shape"])
        low = np.broadcast_to(np.asarray(data["low"], dtype=np.float64), shape).astype(dtype)
        high = np.broadcast_to(np.asarray(data["high"], dtype=np.float64), shape).astype(dtype)
        return gym.spaces.Box(low, high, shape=shape, dtype=dtype)
    if kind == "Dict":
        return gym.spaces.Dict({k: space_from_dict(v) for k, v in data["spaces"].items()})
    raise PolicyError(f"unknown recorded space type {kind!r}; expected Box or Dict")


def _bound(values: np.ndarray) -> float | list[Any]:
    """A scalar when every element is equal (the common case), else the full nested list."""
    flat = np.asarray(values, dtype=np.float64)
    if flat.size and np.all(flat == flat.flat[0]):
        return float(flat.flat[0])
    return flat.tolist()  # type: ignore[no-any-return]


def check_spaces(meta: PolicyMeta, observation_space: gym.Space, action_space: gym.Space,
                 *, where: str = "the policy") -> None:  # fmt: skip
    """Refuse (:class:`PolicyMismatchError`) a policy whose recorded spaces differ from an
    env's (another image size, another state layout, another action dimension); a meta
    without recorded spaces (behaviour cloning) passes. Nothing is loaded."""
    for key, space in (("observation_space", observation_space), ("action_space", action_space)):
        if key not in meta.extra:
            continue
        try:
            recorded = _shapes(space_from_dict(meta.extra[key]))
        except (PolicyError, KeyError, TypeError, ValueError) as exc:
            raise PolicyError(f"{where}: unreadable recorded {key} ({one_line(exc)})") from None
        actual = _shapes(space)
        if recorded != actual:
            raise PolicyMismatchError(
                f"{where} was trained with {key} {recorded}, but {meta.env_id} with obs_mode "
                f"{meta.obs_mode!r} has {actual}; the checkpoint's {META_MEMBER} does not match "
                f"this env: use a checkpoint trained on it (scripts/train_policy.py)"
            )


def _shapes(space: gym.Space) -> Any:
    """Shapes of a space, images channels-first (SB3 records images transposed)."""
    if isinstance(space, gym.spaces.Dict):
        return {k: _shapes(s) for k, s in space.spaces.items()}
    shape = tuple(int(v) for v in (space.shape or ()))
    if len(shape) == 3 and shape[-1] in (1, 2, 3, 4) and shape[0] not in (1, 2, 3, 4):
        return (shape[2], shape[0], shape[1])
    return shape
