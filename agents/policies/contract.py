"""The policy-checkpoint contract shared by RL (Stable-Baselines3) and behaviour cloning.

A checkpoint records what it was trained on (:class:`PolicyMeta`: env id, preset, obs
mode, image size) so that evaluation and rollouts can refuse a policy used on the wrong
env. ``.zip`` files are Stable-Baselines3 models with the meta stored inside the zip as an
extra member ``domrand.json``; ``.pt`` files are behaviour-cloning checkpoints
(:func:`agents.policies.bc.load_bc_policy`). :func:`load_policy` opens either and returns an object
with ``.meta`` and a deterministic, batched ``act(obs)``.

SB3 zips are opened without unpickling anything by default: SB3 stores some entries of its
``data`` member with cloudpickle (spaces, schedules, the policy class), which could run
arbitrary code; :func:`load_policy` rebuilds those entries from ``domrand.json`` instead
and SB3 reads the weights with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast, runtime_checkable

import gymnasium as gym
import numpy as np

POLICY_KINDS: tuple[str, ...] = ("sb3", "bc")
SB3_ALGOS: tuple[str, ...] = ("sac", "ppo")
META_MEMBER = "domrand.json"
"""name of the zip member holding the :class:`PolicyMeta` of an SB3 checkpoint"""
CHECKPOINT_SUFFIXES: tuple[str, ...] = (".zip", ".pt")
_ROLLOUT_STATE = ("_last_obs", "_last_original_obs", "_last_episode_starts")
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


# ---------------------------------------------------------------- spaces as plain data


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


# ---------------------------------------------------------------- SB3 checkpoints


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
    path = _existing(path)
    if path.suffix.lower() != ".zip":
        raise PolicyError(f"read_meta reads SB3 .zip checkpoints; got {str(path)!r}")
    try:
        with zipfile.ZipFile(path) as archive:
            if META_MEMBER not in archive.namelist():
                raise PolicyError(
                    f"{path} has no {META_MEMBER} member, so nothing says which env, preset "
                    f"and obs mode it was trained on; save it with agents.policies.contract.save_sb3 "
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
    path = _existing(path)
    meta = read_meta(path) if meta is None else meta
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in SB3_MEMBERS if m not in names]
            if missing:
                raise PolicyError(
                    f"{path} is not a Stable-Baselines3 checkpoint: it lacks the member(s) "
                    f"{missing}; save policies with agents.policies.contract.save_sb3 "
                    f"(scripts/train_policy.py)"
                )
            data = json.loads(archive.read("data").decode())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise PolicyError(
            f"{path} is not a readable zip file ({_one_line(exc)}); retrain or copy it again"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(
            f"{path}: its Stable-Baselines3 'data' member is not JSON ({_one_line(exc)}); the "
            f"file is corrupt: retrain or copy it again"
        ) from None
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: its Stable-Baselines3 'data' member is not a JSON object")
    lacking = [k for k in ("observation_space", "action_space", "policy") if k not in meta.extra]
    if lacking:
        raise PolicyError(
            f"{path}: {META_MEMBER} lacks {lacking} (the spaces and policy name are needed to "
            f"load without unpickling); save it with agents.policies.contract.save_sb3"
        )
    for key in ("observation_space", "action_space"):
        try:
            space_from_dict(meta.extra[key])
        except (PolicyError, KeyError, TypeError, ValueError) as exc:
            raise PolicyError(
                f"{path}: {META_MEMBER} records an unreadable {key} ({_one_line(exc)})"
            ) from None
    return meta


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
            raise PolicyError(f"{where}: unreadable recorded {key} ({_one_line(exc)})") from None
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


def _one_line(exc: BaseException) -> str:
    """An exception as one short line (some messages span paragraphs)."""
    text = " ".join(str(exc).split())
    first = text.split(". ")[0] if text else type(exc).__name__
    return first[:300]


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
            f"without unpickling); save with agents.policies.contract.save_sb3"
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
    path = _existing(path)
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
            f"{_one_line(exc)}); the file is corrupt or from an incompatible version: retrain "
            f"or copy it again"
        ) from None
    return SB3Policy(model, meta)


# ---------------------------------------------------------------- the one entry point


def load_policy(
    path: str | Path,
    *,
    env_id: str | None = None,
    obs_mode: str | None = None,
    trusted: bool = False,
) -> LoadedPolicy:
    """Load a policy checkpoint (SB3 ``.zip`` or behaviour-cloning ``.pt``), refusing one
    trained for another ``env_id`` or ``obs_mode`` than given.

    ``trusted=True`` lets SB3 unpickle its own entries (needed only for checkpoints with
    custom objects that :func:`save_sb3` does not record).
    """
    path = _existing(path)
    suffix = path.suffix.lower()
    policy: LoadedPolicy
    if suffix == ".zip":
        meta = read_meta(path)
        meta.check(env_id=env_id, obs_mode=obs_mode)  # before loading weights: fail fast
        policy = load_sb3(path, trusted=trusted)
    elif suffix == ".pt":
        try:
            from agents.policies.bc import load_bc_policy  # type: ignore[import-not-found,unused-ignore]
        except ModuleNotFoundError as exc:
            if exc.name != "agents.policies.bc":
                raise
            raise PolicyError(
                f"{path} is a behaviour-cloning checkpoint, but this installation has no "
                f"agents.policies.bc to load it; update domrand or use an SB3 .zip checkpoint"
            ) from None
        policy = cast(LoadedPolicy, load_bc_policy(path))
    else:
        raise PolicyError(
            f"unknown checkpoint type {str(path)!r}: expected a Stable-Baselines3 .zip "
            f"(scripts/train_policy.py) or a behaviour-cloning .pt"
        )
    policy.meta.check(env_id=env_id, obs_mode=obs_mode)
    return policy


def policy_meta(path: str | Path) -> PolicyMeta:
    """The meta of any checkpoint: read from the zip for SB3 (no weights loaded); a
    behaviour-cloning ``.pt`` is loaded to read it."""
    path = _existing(path)
    if path.suffix.lower() == ".zip":
        return check_sb3_archive(path)
    return load_policy(path).meta


def is_checkpoint(name: str) -> bool:
    """Whether a ``--policy`` value names a checkpoint file rather than a built-in policy."""
    return Path(name).suffix.lower() in CHECKPOINT_SUFFIXES


def _existing(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if not path.is_file():
        hint = "train one with scripts/train_policy.py" if not path.exists() else "not a file"
        raise PolicyError(f"policy checkpoint {str(path)!r} does not exist ({hint})")
    return path


# ---------------------------------------------------------------- output paths

CHECKPOINT_KINDS: dict[str, str] = {
    "sb3": "Stable-Baselines3 policy",
    "bc": "behaviour-cloning policy",
    "regressor": "pose-regressor",
    "gan": "appearance-GAN",
    "localizer": "localizer",
}
"""every checkpoint kind the training scripts write, with the words that describe it"""
_PT_FORMATS = {"domrand-bc-policy": "bc", "domrand-pose-regressor": "regressor", "domrand-gan": "gan",
               "domrand-localizer": "localizer"}  # fmt: skip


class OutputPathError(ValueError):
    """An output path that cannot or must not be written (checked before any work)."""


def checkpoint_kind(path: str | Path) -> str | None:
    """The kind (a key of :data:`CHECKPOINT_KINDS`) of the domrand checkpoint at ``path``;
    None for a missing, unreadable or foreign file. Reads with ``weights_only=True``."""
    p = Path(path).expanduser()
    if not p.is_file():
        return None
    if zipfile.is_zipfile(p):
        try:
            with zipfile.ZipFile(p) as archive:
                if META_MEMBER in archive.namelist():
                    data = json.loads(archive.read(META_MEMBER).decode())
                    if isinstance(data, dict) and data.get("kind") == "sb3":
                        return "sb3"
        except (zipfile.BadZipFile, OSError, EOFError, ValueError):
            return None
    try:
        import torch

        payload = torch.load(p, map_location="cpu", weights_only=True)
    except Exception:  # anything torch cannot read safely is not one of ours
        return None
    fmt = payload.get("format") if isinstance(payload, dict) else None
    return _PT_FORMATS.get(fmt) if isinstance(fmt, str) else None


def check_output_file(
    path: str | Path,
    *,
    kind: str,
    suffixes: tuple[str, ...],
    force: bool = False,
    flag: str = "--out",
) -> Path:
    """Check, before any training, that a checkpoint can be written to ``path``: the suffix
    is one of ``suffixes``, ``path`` is not a folder, its folder exists (or can be made) and
    is writable, and an existing file there is a checkpoint of the same ``kind`` (replaced)
    unless ``force``. Raises :class:`OutputPathError` with a one-line reason."""
    p = Path(path).expanduser()
    what = CHECKPOINT_KINDS[kind]
    if p.suffix.lower() not in suffixes:
        raise OutputPathError(
            f"{flag} must end in {' or '.join(suffixes)} (a {what} checkpoint), got {str(p)!r}"
        )
    if p.is_dir():
        raise OutputPathError(
            f"{flag} {str(p)!r} is an existing folder, but a {what} checkpoint is a file; "
            f"give a file path such as {str(p / ('model' + suffixes[0]))!r}"
        )
    if p.exists() and not force:
        found = checkpoint_kind(p)
        if found != kind:
            it = f"a {CHECKPOINT_KINDS[found]} checkpoint" if found else "not a domrand checkpoint"
            raise OutputPathError(
                f"{flag} {str(p)!r} already exists and is {it}, not a {what} checkpoint; "
                f"refusing to overwrite it: choose another path, or pass --force to replace it"
            )
    _check_writable_folder(p.parent, flag, str(p))
    return p


def check_output_dir(path: str | Path, *, flag: str = "--out") -> Path:
    """Check, before any work, that ``path`` is a folder (or can be made) and is writable.
    Raises :class:`OutputPathError` with a one-line reason."""
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise OutputPathError(
            f"{flag} {str(p)!r} is an existing file, but a folder is expected here; "
            f"give a folder path (it is created if missing)"
        )
    _check_writable_folder(p, flag, str(p))
    return p


def _check_writable_folder(folder: Path, flag: str, target: str) -> None:
    """The nearest existing ancestor of ``folder`` is a folder we can create files in."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(
            f"{flag} {target!r}: {str(existing)!r} is a file, not a folder, so nothing can be "
            f"written below it; choose another path"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".domrand-write-test-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputPathError(
            f"{flag} {target!r}: the folder {str(existing)!r} is not writable "
            f"({exc.strerror or type(exc).__name__}); choose a writable location"
        ) from None
