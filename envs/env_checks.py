"""Checks of what a user hands the Panda envs: constructor arguments, ``reset`` options,
replayed params and actions. Each error names the argument, the rule and the value."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from envs.tasks.base import Task
from randomizers.compose import Compose
from randomizers.spaces import ParamSpec, validate_params


def image_shape(image_size: Any, name: str, max_side: int) -> tuple[int, int]:
    """Validate an image size given as ``N`` or ``(height, width)``; returns (height, width)."""
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        h = w = int(image_size)
    elif (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size)
    ):
        h, w = int(image_size[0]), int(image_size[1])
    else:
        raise TypeError(
            f"{name} must be an int or a (height, width) pair of ints, got {image_size!r}"
        )
    if h <= 0 or w <= 0:
        raise ValueError(f"{name} must be > 0 pixels, got {image_size!r}")
    if h > max_side or w > max_side:
        raise ValueError(f"{name} must be at most {max_side} pixels per side, got {image_size!r}")
    return h, w


def check_modes(
    obs_mode: str, reward_type: str, render_mode: str | None, *, obs_modes: Sequence[str],
    reward_types: Sequence[str], render_modes: Sequence[str],
) -> None:  # fmt: skip
    """Unknown observation, reward or render modes fail with the allowed ones."""
    if obs_mode not in obs_modes:
        raise ValueError(f"unknown obs_mode {obs_mode!r}; allowed: {', '.join(obs_modes)}")
    if reward_type not in reward_types:
        raise ValueError(
            f"unknown reward_type {reward_type!r}; allowed: {', '.join(reward_types)}"
        )
    if render_mode is not None and render_mode not in render_modes:
        raise ValueError(
            f"unknown render_mode {render_mode!r}; allowed: None, {', '.join(render_modes)}"
        )


def episode_steps(max_episode_steps: Any, default: int) -> int:
    """The time limit: ``default`` for ``None``, else an int > 0."""
    if max_episode_steps is None:
        max_episode_steps = default
    if isinstance(max_episode_steps, bool) or not isinstance(max_episode_steps, int):
        raise TypeError(f"max_episode_steps must be an int, got {max_episode_steps!r}")
    if max_episode_steps <= 0:
        raise ValueError(f"max_episode_steps must be > 0, got {max_episode_steps}")
    return max_episode_steps


def check_configs(configs: Sequence[tuple[str, Any, type]]) -> None:
    """Each ``(argument, value, config class)``: the value is ``None`` or that class."""
    for arg, value, cls in configs:
        if value is not None and not isinstance(value, cls):
            raise TypeError(
                f"{arg} must be None or an envs.{cls.__name__}, got {type(value).__name__}; "
                f"build it as {cls.__name__}(...) with keyword arguments"
            )


def check_task_kwargs(task_cls: type[Task], kwargs: Any) -> None:
    """``task_kwargs`` is a dict whose keys the task accepts; unknown ones fail with the
    arguments the task takes."""
    if kwargs is None:
        return
    if not isinstance(kwargs, Mapping):
        raise TypeError(f"task_kwargs must be a dict, got {type(kwargs).__name__}")
    params = inspect.signature(task_cls.__init__).parameters
    allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(
            f"unknown task_kwargs {unknown} for {task_cls.__name__}; allowed: "
            f"{', '.join(allowed) or 'none'}"
        )


def reset_options(options: Any) -> Any:
    """The replayed params in ``reset(options=...)`` (``None`` if none); other keys fail."""
    options = {} if options is None else options
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a dict or None, got {type(options).__name__}")
    unknown = set(options) - {"randomization"}
    if unknown:
        raise ValueError(f"unknown reset option(s) {sorted(unknown)}; allowed: 'randomization'")
    return options.get("randomization")


def replay_params(
    params: Any, randomizer: Compose | None, task_space: list[ParamSpec], task_key: str
) -> dict[str, Any]:
    """Replayed params checked against the env's randomizer and its task's state space
    (under ``task_key``); returns a clean copy."""
    where = "options['randomization']"
    if not isinstance(params, Mapping):
        raise TypeError(f"{where} must be a dict of params, got {type(params).__name__}")
    rest = {k: v for k, v in params.items() if k != task_key}
    out: dict[str, Any] = {}
    if randomizer is None:
        if rest:
            raise ValueError(
                f"this env has no randomizer (randomization=None), so {where} may only "
                f"hold {task_key!r}; got keys {sorted(rest)}"
            )
    else:
        out = randomizer.validate(rest, where)
    if task_key in params:  # without it the initial state comes from the seed
        out[task_key] = validate_params(task_space, params[task_key], f"{where}.{task_key}")
    return out


def action_values(action: Any, shape: tuple[int, ...]) -> list[float]:
    """An action as plain floats (cheaper than NumPy on 3-4 numbers); wrong shapes, text
    and NaN or inf fail."""
    try:
        act = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"expected an action of shape {shape} with numbers in [-1, 1], got {action!r}"
        ) from None
    if act.shape != shape:
        raise ValueError(
            f"expected an action of shape {shape} with numbers in [-1, 1], got shape {act.shape}"
        )
    values = act.tolist()
    if not all(map(math.isfinite, values)):
        raise ValueError(f"action contains NaN or inf: {act}")
    return values


__all__ = [
    "action_values",
    "check_configs",
    "check_modes",
    "check_task_kwargs",
    "episode_steps",
    "image_shape",
    "replay_params",
    "reset_options",
]
