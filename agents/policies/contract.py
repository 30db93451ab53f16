"""The policy-checkpoint contract shared by RL (Stable-Baselines3) and behaviour cloning.

A checkpoint records what it was trained on (:class:`PolicyMeta`: env id, preset, obs
mode, image size) so that evaluation and rollouts can refuse a policy used on the wrong
env. A loaded checkpoint is a :class:`LoadedPolicy`: its meta and a deterministic, batched
``act(obs)``. ``.zip`` files are Stable-Baselines3 models (:mod:`agents.policies.sb3`),
``.pt`` files behaviour-cloning ones (:mod:`agents.policies.bc`);
:func:`agents.policies.loading.load_policy` opens either.

This module imports no policy implementation: they import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

POLICY_KINDS: tuple[str, ...] = ("sb3", "bc")
SB3_ALGOS: tuple[str, ...] = ("sac", "ppo")
META_MEMBER = "domrand.json"
"""name of the zip member holding the :class:`PolicyMeta` of an SB3 checkpoint"""
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".zip", ".pt")
_OBS_MODES: tuple[str, ...] = ("state", "rgb", "rgbd", "state+rgb")  # envs.panda_env.OBS_MODES


class PolicyError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, or trained for something else."""


class PolicyMismatchError(PolicyError):
    """A checkpoint trained on another env id or observation mode than asked for."""


@dataclass(frozen=True)
class PolicyMeta:
    """What a policy checkpoint was trained on; stored with every checkpoint."""

    kind: str
    """``sb3`` (a Stable-Baselines3 ``.zip``) or ``bc`` (a behaviour-cloning ``.pt``)"""
    algo: str
    """training algorithm, e.g. ``sac``, ``ppo``, ``bc``"""
    env_id: str
    """the env id it was trained on"""
    preset: str | None = None
    """the randomization preset (name or YAML path) it was trained with; None for nominal"""
    obs_mode: str = "state"
    """the env's observation mode"""
    image_size: int = 128
    """the env's observation image size (px)"""
    extra: dict[str, Any] = field(default_factory=dict)
    """anything else worth keeping (JSON-serializable): hyperparameters, steps, spaces"""

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise PolicyError(f"PolicyMeta.kind must be one of {POLICY_KINDS}, got {self.kind!r}")
        for name in ("algo", "env_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise PolicyError(f"PolicyMeta.{name} must be a non-empty string, got {value!r}")
        if self.kind == "sb3" and self.algo not in SB3_ALGOS:
            raise PolicyError(
                f"PolicyMeta.algo {self.algo!r} is not a supported Stable-Baselines3 "
                f"algorithm; allowed: {', '.join(SB3_ALGOS)}"
            )
        if self.preset is not None and not isinstance(self.preset, str):
            raise PolicyError(
                f"PolicyMeta.preset must be a preset name, a .yaml path or None, "
                f"got {type(self.preset).__name__}"
            )
        if self.obs_mode not in _OBS_MODES:
            raise PolicyError(
                f"PolicyMeta.obs_mode must be one of {', '.join(_OBS_MODES)}, got {self.obs_mode!r}"
            )
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int):
            raise PolicyError(f"PolicyMeta.image_size must be an int, got {self.image_size!r}")
        if self.image_size < 1:
            raise PolicyError(f"PolicyMeta.image_size must be >= 1, got {self.image_size}")
        if not isinstance(self.extra, dict):
            raise PolicyError(f"PolicyMeta.extra must be a dict, got {type(self.extra).__name__}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PolicyMeta:
        """Validate and build; unknown or missing keys are refused by name."""
        if not isinstance(data, Mapping):
            raise PolicyError(f"policy meta must be a mapping, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise PolicyError(f"unknown policy meta key(s) {unknown}; allowed: {sorted(known)}")
        missing = [k for k in ("kind", "algo", "env_id") if k not in data]
        if missing:
            raise PolicyError(f"policy meta lacks required key(s) {missing}")
        return cls(**dict(data))

    def describe(self) -> str:
        """One line: what it was trained on."""
        preset = self.preset if self.preset is not None else "no randomization"
        return (
            f"{self.algo} ({self.kind}) trained on {self.env_id} with obs_mode "
            f"{self.obs_mode!r}, image_size {self.image_size}, preset {preset!r}"
        )

    def check(self, *, env_id: str | None = None, obs_mode: str | None = None) -> None:
        """Refuse (:class:`PolicyMismatchError`) an env id or obs mode other than the trained one."""
        wrong = []
        if env_id is not None and env_id != self.env_id:
            wrong.append(f"env {env_id}")
        if obs_mode is not None and obs_mode != self.obs_mode:
            wrong.append(f"obs_mode {obs_mode!r}")
        if wrong:
            raise PolicyMismatchError(
                f"the policy was trained on {self.env_id} with obs_mode {self.obs_mode!r}; "
                f"you asked for {' and '.join(wrong)}. Use a checkpoint trained for that, "
                f"or run it on {self.env_id} with --obs-mode {self.obs_mode}"
            )


Obs = np.ndarray | Mapping[str, np.ndarray]


@runtime_checkable
class LoadedPolicy(Protocol):
    """A loaded checkpoint: its meta and a deterministic batched ``act``."""

    meta: PolicyMeta

    def act(self, obs: Obs) -> np.ndarray:
        """Actions (``(n, *action_shape)``) for a batch of observations as a Gymnasium
        vector env returns them (an array, or a dict of arrays, with a leading env axis)."""
        ...


def is_checkpoint(name: str) -> bool:
    """Whether a ``--policy`` value names a checkpoint file rather than a built-in policy."""
    return Path(name).suffix.lower() in CHECKPOINT_SUFFIXES


def existing_checkpoint(path: str | Path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or :class:`PolicyError` when it is not a file."""
    path = Path(path).expanduser()
    if not path.is_file():
        hint = "train one with scripts/train_policy.py" if not path.exists() else "not a file"
        raise PolicyError(f"policy checkpoint {str(path)!r} does not exist ({hint})")
    return path


def one_line(exc: BaseException) -> str:
    """An exception as one short line (some messages span paragraphs)."""
    text = " ".join(str(exc).split())
    first = text.split(". ")[0] if text else type(exc).__name__
    return first[:300]
