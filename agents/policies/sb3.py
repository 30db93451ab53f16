"""Stable-Baselines3 checkpoints: save with the :class:`~agents.policies.contract.PolicyMeta`
inside the zip, check an archive without loading it, and load it without unpickling.

A checkpoint is the ``.zip`` SB3 writes plus an extra member ``domrand.json``
(:data:`~agents.policies.contract.META_MEMBER`) holding the meta and the model's spaces.
SB3 stores some entries of its ``data`` member with cloudpickle (spaces, schedules, the
policy class), which could run arbitrary code; :func:`load_sb3` rebuilds those entries from
``domrand.json`` instead, and SB3 reads the weights with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import pickle
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.policies.contract import (
    META_MEMBER,
    Obs,
    PolicyError,
    PolicyMeta,
    existing_checkpoint,
    one_line,
)
from agents.policies.spaces import space_from_dict, space_to_dict

_ROLLOUT_STATE = ("_last_obs", "_last_original_obs", "_last_episode_starts")


class SB3Policy:
    """A Stable-Baselines3 model behind the :class:`LoadedPolicy` interface."""

    def __init__(self, model: Any, meta: PolicyMeta) -> None:
        self.model = model
        self.meta = meta

    def act(self, obs: Obs) -> np.ndarray:
        """Deterministic actions for a batch of observations."""
        batch = (
            {k: np.asarray(v) for k, v in obs.items()}
            if isinstance(obs, Mapping)
            else np.asarray(obs)
        )
        actions, _ = self.model.predict(batch, deterministic=True)
        return np.asarray(actions, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SB3Policy({self.meta.describe()})"


def save_sb3(model: Any, path: str | Path, meta: PolicyMeta) -> Path:
    """Save an SB3 model to ``path`` (``.zip``) with ``meta`` (and the model's spaces)
    appended as the ``domrand.json`` member; returns the path."""
    path = Path(path)
    if path.suffix.lower() != ".zip":
        raise PolicyError(f"an SB3 checkpoint path must end in .zip, got {str(path)!r}")
    if meta.kind != "sb3":
        raise PolicyError(f"save_sb3 needs a meta of kind 'sb3', got {meta.kind!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = dict(meta.extra)
    extra.setdefault("observation_space", space_to_dict(model.observation_space))
    extra.setdefault("action_space", space_to_dict(model.action_space))
    extra.setdefault("policy", type(model.policy).__name__)
    full = PolicyMeta(**{**meta.to_dict(), "extra": extra})
    tmp = path.with_name(path.name + ".tmp.zip")
    model.save(tmp, exclude=list(_ROLLOUT_STATE))
    with zipfile.ZipFile(tmp, "a") as archive:
        archive.writestr(META_MEMBER, json.dumps(full.to_dict(), indent=2, allow_nan=True))
    tmp.replace(path)  # atomic: a crash never leaves a half-written checkpoint at `path`
    return path


def read_meta(path: str | Path) -> PolicyMeta:
    """The :class:`PolicyMeta` of a checkpoint (an SB3 ``.zip``) without loading weights."""
    path = existing_checkpoint(path)
    if path.suffix.lower() != ".zip":
        raise PolicyError(f"read_meta reads SB3 .zip checkpoints; got {str(path)!r}")
    try:
        with zipfile.ZipFile(path) as archive:
            if META_MEMBER not in archive.namelist():
                raise PolicyError(
                    f"{path} has no {META_MEMBER} member, so nothing says which env, preset "
                    f"and obs mode it was trained on; save it with agents.policies.sb3.save_sb3 "
                    f"(or scripts/train_policy.py)"
                )
            data = json.loads(archive.read(META_MEMBER).decode())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PolicyError(
            f"{path} is not a readable zip file ({exc}); it is not a Stable-Baselines3 "
            f"checkpoint or it is corrupt: retrain or copy it again"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"{path}: {META_MEMBER} is not valid JSON ({exc})") from None
    try:
        meta = PolicyMeta.from_dict(data)
    except (PolicyError, TypeError) as exc:
        raise PolicyError(f"{path}: invalid {META_MEMBER}: {exc}") from None
    if meta.kind != "sb3":
        raise PolicyError(
            f"{path}: {META_MEMBER} says kind {meta.kind!r}, but a .zip checkpoint is a "
            f"Stable-Baselines3 model (kind 'sb3'); behaviour-cloning policies are .pt files"
        )
    return meta


SB3_MEMBERS: tuple[str, ...] = ("data", "policy.pth")
"""zip members every Stable-Baselines3 checkpoint has"""


def check_sb3_archive(path: str | Path, meta: PolicyMeta | None = None) -> PolicyMeta:
    """Check that an SB3 ``.zip`` holds what loading it needs (the SB3 members, a JSON
    ``data`` member, the recorded spaces and policy class) without unpickling or loading
    any weights; returns its meta. Raises :class:`PolicyError` naming the file."""
    path = existing_checkpoint(path)
    meta = read_meta(path) if meta is None else meta
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in SB3_MEMBERS if m not in names]
            if missing:
                raise PolicyError(
                    f"{path} is not a Stable-Baselines3 checkpoint: it lacks the member(s) "
                    f"{missing}; save policies with agents.policies.sb3.save_sb3 "
                    f"(scripts/train_policy.py)"
                )
            data = json.loads(archive.read("data").decode())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PolicyError(
            f"{path} is not a readable zip file ({one_line(exc)}); retrain or copy it again"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(
            f"{path}: its Stable-Baselines3 'data' member is not JSON ({one_line(exc)}); the "
            f"file is corrupt: retrain or copy it again"
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: its Stable-Baselines3 'data' member is not a JSON object")
    lacking = [k for k in ("observation_space", "action_space", "policy") if k not in meta.extra]
    if lacking:
        raise PolicyError(
            f"{path}: {META_MEMBER} lacks {lacking} (the spaces and policy name are needed to "
            f"load without unpickling); save it with agents.policies.sb3.save_sb3"
        )
    for key in ("observation_space", "action_space"):
        try:
            space_from_dict(meta.extra[key])
        except (PolicyError, KeyError, TypeError, ValueError) as exc:
            raise PolicyError(
                f"{path}: {META_MEMBER} records an unreadable {key} ({one_line(exc)})"
            ) from None
    return meta


def _algo_class(algo: str) -> Any:
    try:
        import stable_baselines3 as sb3
    except ImportError:
        raise ImportError(
            "loading a .zip policy needs Stable-Baselines3: pip install 'domrand[rl]'"
        ) from None
    return {"sac": sb3.SAC, "ppo": sb3.PPO}[algo]


def _safe_custom_objects(path: Path, meta: PolicyMeta, algo_cls: Any) -> dict[str, Any]:
    """Replacements for every cloudpickled entry of SB3's ``data`` member, rebuilt from the
    meta, so that loading never unpickles; an entry we cannot rebuild is refused."""
    from stable_baselines3.common.buffers import (
        DictReplayBuffer,
        DictRolloutBuffer,
        ReplayBuffer,
        RolloutBuffer,
    )
    from stable_baselines3.common.utils import ConstantSchedule

    try:
        with zipfile.ZipFile(path) as archive:
            data = json.loads(archive.read("data").decode())
    except (KeyError, zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise PolicyError(
            f"{path}: its Stable-Baselines3 'data' member is missing or unreadable ({exc}); "
            f"the file is corrupt: retrain or copy it again"
        ) from None
    try:
        obs_space = space_from_dict(meta.extra["observation_space"])
        act_space = space_from_dict(meta.extra["action_space"])
        policy_name = meta.extra["policy"]
    except KeyError as exc:
        raise PolicyError(
            f"{path}: {META_MEMBER} lacks {exc} (spaces and policy name are needed to load "
            f"without unpickling); save with agents.policies.sb3.save_sb3"
        ) from None
    classes = {c.__name__: c for c in algo_cls.policy_aliases.values()}
    classes.update(algo_cls.policy_aliases)
    if policy_name not in classes:
        raise PolicyError(
            f"{path}: unknown {meta.algo} policy class {policy_name!r}; "
            f"known: {', '.join(sorted(classes))}"
        )
    replacements: dict[str, Any] = {
        "observation_space": obs_space,
        "action_space": act_space,
        "policy_class": classes[policy_name],
        "lr_schedule": ConstantSchedule(0.0),
        "learning_rate": 0.0,
        "clip_range": ConstantSchedule(0.2),
        "clip_range_vf": None,
        "replay_buffer_class": (
            DictReplayBuffer if isinstance(obs_space, gym.spaces.Dict) else ReplayBuffer
        ),
        "replay_buffer_kwargs": {},
        "rollout_buffer_class": (
            DictRolloutBuffer if isinstance(obs_space, gym.spaces.Dict) else RolloutBuffer
        ),
        "rollout_buffer_kwargs": {},
        "action_noise": None,
        "train_freq": (1, "step"),
        # rollout state of the training run: not needed to act, rebuilt by a later learn()
        "_last_obs": None,
        "_last_original_obs": None,
        "_last_episode_starts": None,
        "ep_info_buffer": None,
        "ep_success_buffer": None,
    }
    pickled = [k for k, v in data.items() if isinstance(v, dict) and ":serialized:" in v]
    unknown = [k for k in pickled if k not in replacements]
    if unknown:
        raise PolicyError(
            f"{path}: its SB3 data holds pickled entries {unknown} that cannot be rebuilt "
            f"safely; if you trust the file, load it with load_policy(..., trusted=True)"
        )
    custom = {k: replacements[k] for k in pickled}
    if "buffer_size" in data:
        custom["buffer_size"] = 1  # inference needs no replay memory
    return custom


def load_sb3(path: str | Path, *, trusted: bool = False) -> SB3Policy:
    """Load an SB3 ``.zip`` checkpoint with its meta on the CPU."""
    path = existing_checkpoint(path)
    meta = check_sb3_archive(path)  # refused here, before SB3 reads (or unpickles) anything
    algo_cls = _algo_class(meta.algo)
    custom = None if trusted else _safe_custom_objects(path, meta, algo_cls)
    try:
        with warnings.catch_warnings():  # torch's note on a foreign pickle protocol
            warnings.filterwarnings("ignore", message=r"Detected pickle protocol")
            model = algo_cls.load(path, device="cpu", custom_objects=custom)
    except (
        zipfile.BadZipFile, KeyError, RuntimeError, ValueError, EOFError, OSError,
        pickle.UnpicklingError, AttributeError, TypeError,
    ) as exc:  # fmt: skip
        raise PolicyError(
            f"{path}: Stable-Baselines3 could not load it ({type(exc).__name__}: "
            f"{one_line(exc)}); the file is corrupt or from an incompatible version: retrain "
            f"or copy it again"
        ) from None
    return SB3Policy(model, meta)
