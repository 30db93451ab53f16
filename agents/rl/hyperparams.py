"""Stable-Baselines3 hyperparameters: the defaults, and the rule (type and range) for every
keyword argument :class:`agents.rl.config.TrainConfig` accepts.

Values are checked before any env is built or demo collected, so a typo in ``--hp`` fails
in a second with one line that says what is allowed, not after minutes inside SB3.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# Defaults for state observations on a CPU (small batches: the SAC update, not the env,
# bounds throughput); override any with TrainConfig.hyperparams (SB3 keyword arguments).
DEFAULT_HYPERPARAMS: dict[str, dict[str, Any]] = {
    "sac": {
        "learning_rate": 1e-3,
        "gamma": 0.95,
        "tau": 0.05,
        "batch_size": 128,
        "buffer_size": 300_000,
        "learning_starts": 2_000,
        "train_freq": 1,
        "gradient_steps": 1,
        "policy_kwargs": {"net_arch": [256, 256]},
    },
    "ppo": {
        "learning_rate": 3e-4,
        "n_steps": 512,
        "batch_size": 256,
        "n_epochs": 10,
        "gamma": 0.98,
        "gae_lambda": 0.95,
        "policy_kwargs": {"net_arch": [128, 128]},
    },
}

# After pretraining on demos, RL starts at once and with little entropy bonus: SAC's
# default initial temperature (1.0) would swamp the small dense rewards and push the
# cloned actor toward random actions before the temperature adapts.
PRETRAINED_HYPERPARAMS: dict[str, Any] = {"learning_starts": 0, "ent_coef": "auto_0.01"}


class HyperparamError(ValueError):
    """A hyperparameter has the wrong type or range, or Stable-Baselines3 refused it."""


class _Bad(Exception):
    """Internal: a value breaks its rule (``detail`` says more than the rule)."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class Hyperparam:
    """The rule for one SB3 keyword argument: what it must be (in words, for errors and
    ``--help``), an example ``--hp`` value, and the check that returns the value to use
    (numbers written as text, ``3e-4`` or ``1e5``, become numbers) or raises."""

    allowed: str
    example: str
    check: Callable[[Any], Any]


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    return ""


def _as_number(value: Any, integer: bool) -> int | float:
    """``value`` as a finite int or float (text such as ``3e-4`` included), or :class:`_Bad`."""
    if isinstance(value, (bool, np.bool_)):
        raise _Bad()
    if isinstance(value, str):
        try:  # YAML 1.1 reads 3e-4 and 1e5 as text
            value = float(value.strip().replace("_", ""))
        except ValueError:
            raise _Bad() from None
    if isinstance(value, (int, np.integer)):
        return int(value) if integer else float(value)
    if not isinstance(value, (float, np.floating)) or not math.isfinite(value):
        raise _Bad()
    if integer:
        if not float(value).is_integer():
            raise _Bad("not a whole number")
        return int(value)
    return float(value)


def _number(
    example: str, low: float | None = None, high: float | None = None, *,
    low_open: bool = False, high_open: bool = False, integer: bool = False,
    also: tuple[Any, ...] = (), also_words: str = "", schedule: bool = False,
) -> Hyperparam:  # fmt: skip
    """A number in an interval; ``also`` lists other accepted values (None, -1, 'auto')."""
    kind = "an integer" if integer else "a finite number"
    allowed = " ".join(filter(None, [kind, _interval(low, high, low_open, high_open)]))
    if also_words:
        allowed += f", or {also_words}"
    if schedule:
        allowed += " (from Python also a schedule function)"

    def check(value: Any) -> Any:
        if schedule and callable(value):
            return value
        if any(value is a or (type(value) is type(a) and value == a) for a in also):
            return value
        number = _as_number(value, integer)
        too_low = low is not None and (number <= low if low_open else number < low)
        too_high = high is not None and (number >= high if high_open else number > high)
        if too_low or too_high:
            raise _Bad()
        return number

    return Hyperparam(allowed, example, check)


def _flag(example: str) -> Hyperparam:
    def check(value: Any) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise _Bad()
        return bool(value)

    return Hyperparam("true or false", example, check)


def _ent_coef_sac(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("auto"):
        text = value.strip()
        if text == "auto":
            return text
        head, _, init = text.partition("_")
        if head != "auto" or not init:
            raise _Bad()
        try:
            start = float(init)
        except ValueError:
            raise _Bad() from None
        if not (math.isfinite(start) and start > 0):
            raise _Bad("the initial value after 'auto_' must be > 0")
        return text
    number = _as_number(value, integer=False)
    if number < 0:
        raise _Bad()
    return number


def _train_freq(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        if len(value) != 2 or value[1] not in ("step", "episode"):
            raise _Bad("a pair is [count, step] or [count, episode]")
        count = _as_number(value[0], integer=True)
        if count < 1:
            raise _Bad()
        return (int(count), value[1])
    count = _as_number(value, integer=True)
    if count < 1:
        raise _Bad()
    return count


def _layers(value: Any) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in value
    ):
        raise _Bad("net_arch is a list of layer widths >= 1, e.g. [64, 64]")
    return [int(v) for v in value]


def _net_arch(heads: tuple[str, ...]) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, Mapping):
            unknown = sorted(str(k) for k in value if k not in heads)
            if unknown:
                raise _Bad(f"net_arch keys {unknown} are not among {list(heads)}")
            return {k: _layers(v) for k, v in value.items()}
        return _layers(value)

    return check


_CLASS_KWARGS = ("activation_fn", "optimizer_class", "features_extractor_class")


def _policy_kwargs(heads: tuple[str, ...]) -> Hyperparam:
    net_arch = _net_arch(heads)

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise _Bad()
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise _Bad(f"keys are names, got {bad!r}")
        out = dict(value)
        if "net_arch" in out:
            out["net_arch"] = net_arch(out["net_arch"])
        for key in _CLASS_KWARGS:
            if isinstance(out.get(key), str):
                raise _Bad(f"{key} takes a Python class, which --hp cannot give; pass it "
                           f"through TrainConfig(hyperparams=...)")  # fmt: skip
        return out

    return Hyperparam(
        f"a mapping of policy arguments (net_arch: a list of layer widths, or "
        f"{{{', '.join(f'{h}: [...]' for h in heads)}}})",
        "'{net_arch: [64, 64]}' (or --hp policy_kwargs.net_arch=[64,64])",
        check,
    )


def _mapping_or_none(example: str) -> Hyperparam:
    def check(value: Any) -> Any:
        if value is not None and not isinstance(value, Mapping):
            raise _Bad()
        return None if value is None else dict(value)

    return Hyperparam("a mapping of keyword arguments, or null", example, check)


def _python_only(what: str, check: Callable[[Any], bool]) -> Hyperparam:
    def accept(value: Any) -> Any:
        if value is not None and not check(value):
            raise _Bad("only the Python API (TrainConfig(hyperparams=...)) can give it")
        return value

    return Hyperparam(f"{what}, or null", "null", accept)


def _is_action_noise(value: Any) -> bool:
    from stable_baselines3.common.noise import ActionNoise

    return isinstance(value, ActionNoise)


_COMMON: dict[str, Hyperparam] = {
    "learning_rate": _number("3e-4", 0, low_open=True, schedule=True),
    "gamma": _number("0.98", 0, 1, low_open=True),
    "batch_size": _number("256", 1, integer=True),
    "use_sde": _flag("true"),
    "sde_sample_freq": _number("4", -1, integer=True),
    "stats_window_size": _number("100", 1, integer=True),
}
HYPERPARAMS: dict[str, dict[str, Hyperparam]] = {
    "sac": {
        **_COMMON,
        "buffer_size": _number("300000", 1, integer=True),
        "learning_starts": _number("1000", 0, integer=True),
        "tau": _number("0.05", 0, 1, low_open=True),
        "train_freq": Hyperparam(
            "an integer >= 1 (env steps), or [count, step] / [count, episode]", "1", _train_freq
        ),
        "gradient_steps": _number(
            "1", 1, integer=True, also=(-1,), also_words="-1 (as many as env steps)"
        ),
        "n_steps": _number("3", 1, integer=True),
        "ent_coef": Hyperparam(
            "a finite number >= 0, 'auto', or 'auto_<initial value > 0>'",
            "auto_0.1",
            _ent_coef_sac,
        ),
        "target_update_interval": _number("1", 1, integer=True),
        "target_entropy": _number("-3", also=("auto",), also_words="'auto'"),
        "use_sde_at_warmup": _flag("true"),
        "optimize_memory_usage": _flag("false"),
        "policy_kwargs": _policy_kwargs(("pi", "qf")),
        "replay_buffer_kwargs": _mapping_or_none("'{handle_timeout_termination: true}'"),
        "replay_buffer_class": _python_only("a replay-buffer class", inspect.isclass),
        "action_noise": _python_only("an SB3 ActionNoise", _is_action_noise),
    },
    "ppo": {
        **_COMMON,
        "n_steps": _number("512", 1, integer=True),
        "batch_size": _number("64", 2, integer=True),
        "n_epochs": _number("10", 1, integer=True),
        "gae_lambda": _number("0.95", 0, 1),
        "clip_range": _number("0.2", 0, low_open=True, schedule=True),
        "clip_range_vf": _number(
            "0.2", 0, low_open=True, schedule=True, also=(None,), also_words="null (no clipping)"
        ),
        "normalize_advantage": _flag("true"),
        "ent_coef": _number("0.01", 0),
        "vf_coef": _number("0.5", 0),
        "max_grad_norm": _number("0.5", 0, low_open=True),
        "target_kl": _number("0.02", 0, low_open=True, also=(None,), also_words="null"),
        "policy_kwargs": _policy_kwargs(("pi", "vf")),
        "rollout_buffer_kwargs": _mapping_or_none("null"),
        "rollout_buffer_class": _python_only("a rollout-buffer class", inspect.isclass),
    },
}
"""Every SB3 keyword argument :class:`TrainConfig` accepts, per algo, with its type and
range; values are checked against it before any env is built or demo collected."""


def _allowed_names(algo: str) -> set[str]:
    import stable_baselines3 as sb3

    cls = {"sac": sb3.SAC, "ppo": sb3.PPO}[algo]
    return set(inspect.signature(cls).parameters) - {
        "policy", "env", "seed", "tensorboard_log", "device", "verbose", "_init_setup_model",
    }  # fmt: skip


def check_hyperparams(algo: str, hyperparams: Mapping[str, Any]) -> dict[str, Any]:
    """The overrides, each checked against :data:`HYPERPARAMS` (type and range) and
    normalized (numbers written as text become numbers, ``[4, step]`` a tuple)."""
    allowed = _allowed_names(algo)
    unknown = sorted(set(hyperparams) - allowed)
    if unknown:
        raise HyperparamError(
            f"unknown {algo} hyperparameter(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )
    out: dict[str, Any] = {}
    for name, value in hyperparams.items():
        rule = HYPERPARAMS[algo].get(name)
        if rule is None:  # an argument of a newer SB3: SB3 itself checks it
            out[name] = value
            continue
        try:
            out[name] = rule.check(value)
        except _Bad as bad:
            detail = f" ({bad.detail})" if bad.detail else ""
            raise HyperparamError(
                f"{algo} hyperparameter {name} must be {rule.allowed}; got {value!r}{detail}; "
                f"e.g. --hp {name}={rule.example}"
            ) from None
    return out


def hyperparam_help() -> str:
    """The :data:`HYPERPARAMS` table as text (for ``--help``)."""
    lines = []
    for name in sorted(set(HYPERPARAMS["sac"]) | set(HYPERPARAMS["ppo"])):
        rules = {algo: table[name] for algo, table in HYPERPARAMS.items() if name in table}
        if len({r.allowed for r in rules.values()}) == 1 and len(rules) == 2:
            lines.append(f"  {name}: {next(iter(rules.values())).allowed}")
        else:
            for algo, rule in rules.items():
                lines.append(f"  {name} ({algo}): {rule.allowed}")
    return "\n".join(lines)
