"""Reinforcement learning with Stable-Baselines3 on the domrand envs (SAC or PPO).

:func:`train` builds a vector env of ``gym.make(env_id, randomization=preset, ...)``, trains,
logs to TensorBoard next to the checkpoint and saves a ``.zip`` whose ``domrand.json``
member (:class:`agents.policies.contract.PolicyMeta`) records the env id, preset and obs mode.

SAC can start from the scripted expert, which is what makes Push learn in minutes on a
CPU (plain SAC showed no successes in its first 30k steps): ``demos`` expert episodes,
collected in the same randomized training envs, fill the replay buffer (Vecerik et al.
2017); ``pretrain_steps`` behaviour-clones the actor on them and warms the critic up;
``bc_weight`` keeps a Q-filtered behaviour-cloning term in the actor loss during RL
(Nair et al. 2018) so that fine-tuning improves on the clone instead of unlearning it.
"""

from __future__ import annotations

import copy
import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.policies.contract import PolicyMeta, check_output_file, save_sb3
from agents.rollout import WORKER_ERRORS, VectorEnvWorkerError, check_image_size

ALGOS: tuple[str, ...] = ("sac", "ppo")
VEC_ENVS: tuple[str, ...] = ("auto", "dummy", "subproc")
MIN_CNN_IMAGE_SIZE = 36
"""the smallest image SB3's NatureCNN (8x8/4, 4x4/2, 3x3/1 convolutions) can take"""
DEMO_NOISE = 0.1
"""std of the Gaussian noise on expert demo actions (diverse demos train a better critic)"""

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


@dataclass(frozen=True)
class TrainConfig:
    """What to train (validated on construction)."""

    env_id: str = "domrand/Push-v0"
    """registered env id"""
    algo: str = "sac"
    """``sac`` or ``ppo``"""
    preset: str | None = None
    """randomization preset (name or .yaml path) for ``gym.make(id, randomization=...)``"""
    steps: int = 100_000
    """environment steps of training (all envs together)"""
    obs_mode: str = "state"
    """observation mode (``state``: MlpPolicy; ``rgb``: CnnPolicy; dicts: MultiInputPolicy)"""
    image_size: int = 64
    """observation image size for image modes"""
    num_envs: int = 1
    """parallel training envs"""
    seed: int = 0
    """seeds the envs, the networks and the demos"""
    out: str = "runs/policy.zip"
    """checkpoint path (.zip); TensorBoard logs go to ``<out without .zip>_tb/``"""
    vec_env: str = "auto"
    """``dummy`` (one process), ``subproc`` (one process per env) or ``auto`` (subproc for
    PPO with several envs, where env steps dominate; dummy otherwise)"""
    demos: int = 0
    """SAC only: expert episodes put in the replay buffer before training"""
    pretrain_steps: int = 0
    """SAC with demos: gradient steps of behaviour cloning of the actor on the demos, then as
    many critic-only TD steps (so RL starts from the expert's behaviour and a critic that
    values it, instead of a random critic that would pull the actor away)"""
    bc_weight: float = 0.0
    """SAC with demos: weight of a Q-filtered behaviour-cloning term in the actor loss
    during RL (Nair et al. 2018): the actor is pulled toward a demo action only where the
    critic values that action above the actor's own; keeps fine-tuning from unlearning"""
    hyperparams: dict[str, Any] = field(default_factory=dict)
    """overrides of :data:`DEFAULT_HYPERPARAMS` (SB3 keyword arguments), each checked
    against :data:`HYPERPARAMS` (type and range) on construction"""
    tensorboard: bool = True
    """log to TensorBoard (needs the ``tensorboard`` package)"""
    torch_threads: int = 1
    """torch CPU threads (small MLPs gain nothing from more, and they starve the envs)"""

    def __post_init__(self) -> None:
        from envs import ENV_IDS
        from envs.panda_env import OBS_MODES

        if self.env_id not in ENV_IDS:
            raise ValueError(f"unknown env {self.env_id!r}; allowed: {', '.join(ENV_IDS)}")
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; allowed: {', '.join(ALGOS)}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"unknown obs_mode {self.obs_mode!r}; allowed: {', '.join(OBS_MODES)}")
        if self.vec_env not in VEC_ENVS:
            raise ValueError(f"unknown vec_env {self.vec_env!r}; allowed: {', '.join(VEC_ENVS)}")
        for name in ("steps", "num_envs", "torch_threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_image_size(self.image_size)
        if self.obs_mode != "state" and self.image_size < MIN_CNN_IMAGE_SIZE:
            raise ValueError(
                f"obs_mode {self.obs_mode!r} trains Stable-Baselines3's NatureCNN, which needs "
                f"images of at least {MIN_CNN_IMAGE_SIZE} px; got image_size {self.image_size}: "
                "use --image-size 64"
            )
        if self.demos < 0 or self.pretrain_steps < 0:
            raise ValueError(
                f"demos and pretrain_steps must be >= 0, got {self.demos}, {self.pretrain_steps}"
            )
        if not (isinstance(self.bc_weight, (int, float)) and math.isfinite(self.bc_weight)) or (
            self.bc_weight < 0
        ):
            raise ValueError(
                f"bc_weight must be a finite number >= 0, got {self.bc_weight!r}; e.g. --bc-weight 1"
            )
        if (self.pretrain_steps or self.bc_weight) and not self.demos:
            raise ValueError("pretrain_steps and bc_weight learn from expert demos: set demos > 0")
        if self.demos and self.algo != "sac":
            raise ValueError("demos fill a replay buffer, so they need an off-policy algo: --algo sac")
        if self.demos:
            from agents.policies.experts import EXPERTS

            if self.env_id not in EXPERTS:
                raise ValueError(f"demos need a scripted expert; none exists for {self.env_id}")
        if not self.out.lower().endswith(".zip"):
            raise ValueError(f"out must be a .zip path (an SB3 checkpoint), got {self.out!r}")
        if self.preset is not None:
            from randomizers.presets import load_preset

            load_preset(self.preset)  # a bad preset fails now, not in a worker process
        object.__setattr__(self, "hyperparams", _check_hyperparams(self.algo, self.hyperparams))
        _check_combination(self)

    def algo_kwargs(self) -> dict[str, Any]:
        """The SB3 keyword arguments: defaults (and :data:`PRETRAINED_HYPERPARAMS` after
        pretraining), then the overrides."""
        pretrained = PRETRAINED_HYPERPARAMS if self.pretrain_steps else {}
        # a copy: SB3 writes into the dicts it is given (policy_kwargs["use_sde"] = ...)
        return copy.deepcopy({**DEFAULT_HYPERPARAMS[self.algo], **pretrained, **self.hyperparams})

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``gym.make``."""
        kwargs: dict[str, Any] = {"obs_mode": self.obs_mode, "image_size": self.image_size}
        if self.preset is not None:
            kwargs["randomization"] = self.preset
        return kwargs

    def policy_name(self) -> str:
        """The SB3 policy alias for the obs mode."""
        return {"state": "MlpPolicy", "rgb": "CnnPolicy"}.get(self.obs_mode, "MultiInputPolicy")

    def tensorboard_dir(self) -> Path:
        """Where TensorBoard logs go: next to the checkpoint."""
        out = Path(self.out)
        return out.with_name(out.stem + "_tb")


@dataclass
class TrainResult:
    """A finished training run."""

    path: Path
    meta: PolicyMeta
    seconds: float
    steps: int

    @property
    def steps_per_second(self) -> float:
        """Training throughput (env steps per wall-clock second, demos excluded)."""
        return self.steps / max(self.seconds, 1e-9)


# ------------------------------------------------------------------ hyperparameters


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


def _check_hyperparams(algo: str, hyperparams: Mapping[str, Any]) -> dict[str, Any]:
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


def _check_combination(config: TrainConfig) -> None:
    """Rules between hyperparameters (and the env count) that SB3 would assert on."""
    import stable_baselines3 as sb3

    kwargs = config.algo_kwargs()
    if config.algo == "ppo" and kwargs.get("normalize_advantage", True):
        n_steps = kwargs.get("n_steps", 2048)
        if n_steps * config.num_envs < 2:
            raise HyperparamError(
                f"ppo hyperparameter n_steps x num_envs must be >= 2 (advantages are "
                f"normalized over the rollout), got n_steps={n_steps} x {config.num_envs}; "
                "raise --hp n_steps or --num-envs"
            )
    freq = kwargs.get("train_freq")
    if isinstance(freq, tuple) and freq[1] == "episode" and config.num_envs != 1:
        raise HyperparamError(
            f"sac hyperparameter train_freq={list(freq)} counts episodes, which needs one "
            f"env; got num_envs={config.num_envs}: use --num-envs 1 or train_freq in steps"
        )
    policy_kwargs = kwargs.get("policy_kwargs") or {}
    cls = {"sac": sb3.SAC, "ppo": sb3.PPO}[config.algo]
    policy_cls = cls.policy_aliases[config.policy_name()]  # type: ignore[attr-defined]
    accepted = set(inspect.signature(policy_cls).parameters) - {
        "observation_space", "action_space", "lr_schedule",
    }  # fmt: skip
    unknown = sorted(set(policy_kwargs) - accepted)
    if unknown:
        raise HyperparamError(
            f"{config.algo} hyperparameter policy_kwargs has unknown key(s) {unknown} for "
            f"{policy_cls.__name__}; allowed: {', '.join(sorted(accepted))}"
        )


def _sb3_refused(config: TrainConfig, exc: BaseException) -> HyperparamError:
    """One line for an error raised by SB3's constructor, naming the hyperparameters."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    kwargs = config.algo_kwargs()
    named = [k for k in config.hyperparams if k in text]
    given = ", ".join(f"{k}={_jsonable(kwargs[k])!r}" for k in named or sorted(config.hyperparams))
    what = f"{type(exc).__name__}: {text}"
    algo = f"Stable-Baselines3 {config.algo.upper()}"
    if named:
        return HyperparamError(
            f"{algo} refused hyperparameter(s) {given}: {what}; change or drop those --hp values"
        )
    if given:
        return HyperparamError(
            f"{algo} could not be built with hyperparameter(s) {given}: {what}; check those "
            "--hp values"
        )
    return HyperparamError(f"{algo} could not be built for this env: {what}")


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


def make_train_env(config: TrainConfig) -> Any:
    """The SB3 vector env (Monitor-wrapped) for ``config``."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

    subproc = config.vec_env == "subproc" or (
        config.vec_env == "auto" and config.algo == "ppo" and config.num_envs > 1
    )
    return make_vec_env(
        config.env_id,
        n_envs=config.num_envs,
        seed=config.seed,
        env_kwargs=config.env_kwargs(),
        vec_env_cls=SubprocVecEnv if subproc else DummyVecEnv,
    )


def add_expert_demos(
    model: Any, venv: Any, episodes: int, seed: int, progress: bool, demo_buffer: Any = None
) -> int:
    """Run the scripted expert (with :data:`DEMO_NOISE`) in ``venv`` for ``episodes``
    episodes and add every transition to ``model.replay_buffer`` (and ``demo_buffer``);
    returns the step count."""
    from tqdm import tqdm

    from agents.policies.experts import make_expert

    env_id = venv.get_attr("spec")[0].id
    n = venv.num_envs
    experts = [
        make_expert(env_id, noise=DEMO_NOISE, rng=np.random.default_rng([seed, 7, i]))
        for i in range(n)
    ]
    obs = venv.reset()
    done_episodes, steps = 0, 0
    bar = tqdm(total=episodes, unit="ep", desc="expert demos", disable=not progress)
    while done_episodes < episodes:
        states = venv.env_method("privileged_state")
        actions = np.stack([experts[i](states[i]) for i in range(n)])
        new_obs, rewards, dones, infos = venv.step(actions)
        next_obs = _real_next_obs(new_obs, dones, infos)
        model.replay_buffer.add(obs, next_obs, actions, rewards, dones, infos)
        if demo_buffer is not None:
            demo_buffer.add(obs, next_obs, actions, rewards, dones, infos)
        obs = new_obs
        steps += n
        for i in np.flatnonzero(dones).tolist():
            experts[i].reset()
            done_episodes += 1
            bar.update(1)
    bar.close()
    return steps


def pretrain_from_demos(model: Any, steps: int, progress: bool = True) -> dict[str, float]:
    """Behaviour-clone the SAC actor on the replay buffer (maximum likelihood of the demo
    actions), then fit the critics to that actor with TD steps, the actor held fixed.
    Returns the final losses."""
    import torch.nn.functional as F
    from stable_baselines3.common.utils import polyak_update
    from tqdm import trange

    actor, critic, buffer = model.actor, model.critic, model.replay_buffer
    batch = model.batch_size
    model.policy.set_training_mode(True)
    bc_loss = torch.zeros(())
    for _ in trange(steps, desc="pretrain actor (BC)", disable=not progress):
        data = buffer.sample(batch)
        mean, log_std, kwargs = actor.get_action_dist_params(data.observations)
        dist = actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        target = torch.clamp(data.actions, -0.98, 0.98)  # atanh of a saturated action is inf
        bc_loss = -dist.log_prob(target).mean()
        actor.optimizer.zero_grad()
        bc_loss.backward()
        actor.optimizer.step()
    if model.log_ent_coef is not None:
        ent_coef = torch.exp(model.log_ent_coef.detach())
    else:
        ent_coef = model.ent_coef_tensor
    critic_loss = torch.zeros(())
    for _ in trange(steps, desc="pretrain critic (TD)", disable=not progress):
        data = buffer.sample(batch)
        with torch.no_grad():
            next_actions, next_log_prob = actor.action_log_prob(data.next_observations)
            next_q = torch.cat(model.critic_target(data.next_observations, next_actions), dim=1)
            next_q = next_q.min(dim=1, keepdim=True)[0] - ent_coef * next_log_prob.reshape(-1, 1)
            target_q = data.rewards + (1 - data.dones) * model.gamma * next_q
        current = critic(data.observations, data.actions)
        critic_loss = 0.5 * sum(F.mse_loss(q, target_q) for q in current)  # type: ignore[assignment]
        critic.optimizer.zero_grad()
        critic_loss.backward()
        critic.optimizer.step()
        polyak_update(critic.parameters(), model.critic_target.parameters(), model.tau)
    return {"bc_nll": float(bc_loss.detach()), "critic_loss": float(critic_loss.detach())}


def install_demo_regularizer(model: Any, demo_buffer: Any, weight: float) -> None:
    """Add ``weight`` x the Q-filtered behaviour-cloning loss on a demo batch to every SAC
    actor update: the actor optimizer's ``step`` backpropagates it before stepping, so
    SB3's own ``train`` needs no change."""
    actor, critic = model.actor, model.critic

    def bc_loss() -> Any:
        demo = demo_buffer.sample(model.batch_size)
        mean, _, _ = actor.get_action_dist_params(demo.observations)
        pi = torch.tanh(mean)
        with torch.no_grad():
            q_demo = torch.cat(critic(demo.observations, demo.actions), dim=1).min(dim=1)[0]
            q_pi = torch.cat(critic(demo.observations, pi), dim=1).min(dim=1)[0]
            keep = (q_demo > q_pi).float()  # the Q-filter
        return weight * (((pi - demo.actions) ** 2).sum(dim=1) * keep).mean()

    old = actor.optimizer
    new = RegularizedAdam(actor.parameters(), bc_loss, **old.defaults)
    new.load_state_dict(old.state_dict())
    actor.optimizer = new


class RegularizedAdam(torch.optim.Adam):
    """Adam whose ``step`` first backpropagates an extra loss into the gradients."""

    def __init__(self, params: Any, regularizer: Callable[[], torch.Tensor], **defaults: Any):
        super().__init__(params, **defaults)
        self.regularizer = regularizer

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        """Add the regularizer's gradients, then take the Adam step."""
        self.regularizer().backward()
        return super().step(closure)


def _real_next_obs(new_obs: Any, dones: np.ndarray, infos: list[dict[str, Any]]) -> Any:
    """SB3 auto-resets: the true last observation of a finished episode is in its info."""
    if isinstance(new_obs, dict):
        out = {k: v.copy() for k, v in new_obs.items()}
        for i in np.flatnonzero(dones).tolist():
            for k in out:
                out[k][i] = infos[i]["terminal_observation"][k]
        return out
    out_arr = np.array(new_obs, copy=True)
    for i in np.flatnonzero(dones).tolist():
        out_arr[i] = infos[i]["terminal_observation"]
    return out_arr


def train(config: TrainConfig, *, progress: bool = True, verbose: int = 0) -> TrainResult:
    """Train ``config.algo`` on ``config.env_id`` and save the checkpoint with its meta.

    The output path is checked first (a folder, or a folder that cannot be written, fails
    before any training; replacing existing files is the caller's decision, see
    ``scripts/train_policy.py --force``). Hyperparameters that Stable-Baselines3's
    constructor refuses raise :class:`HyperparamError` (before any demo is collected). A
    subprocess env worker that dies raises :class:`agents.rollout.VectorEnvWorkerError`."""
    import stable_baselines3 as sb3

    check_output_file(config.out, kind="sb3", suffixes=(".zip",), force=True, flag="out")
    torch.set_num_threads(config.torch_threads)
    tb_dir: str | None = None
    if config.tensorboard:
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            raise ImportError(
                "TensorBoard logging needs tensorboard: pip install 'domrand[rl]' "
                "(or pass tensorboard=False / --no-tensorboard)"
            ) from None
        tb_dir = str(config.tensorboard_dir())
    venv = make_train_env(config)
    cls = {"sac": sb3.SAC, "ppo": sb3.PPO}[config.algo]
    demo_steps = 0
    dead: VectorEnvWorkerError | None = None
    try:
        try:
            model = cls(
                config.policy_name(), venv, seed=config.seed, tensorboard_log=tb_dir,
                device="cpu", verbose=verbose, **config.algo_kwargs(),
            )  # fmt: skip
        except (AssertionError, TypeError, ValueError, KeyError, RuntimeError, MemoryError) as exc:
            raise _sb3_refused(config, exc) from None
        demo_buffer = None
        if config.bc_weight:
            from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer

            buffer_cls = DictReplayBuffer if config.obs_mode != "state" else ReplayBuffer
            demo_buffer = buffer_cls(
                config.demos * 200, venv.observation_space, venv.action_space,
                device="cpu", n_envs=venv.num_envs,
            )  # fmt: skip
        if config.demos:
            demo_steps = add_expert_demos(
                model, venv, config.demos, config.seed, progress, demo_buffer
            )
        if config.pretrain_steps:
            pretrain_from_demos(model, config.pretrain_steps, progress)
        if demo_buffer is not None:
            install_demo_regularizer(model, demo_buffer, config.bc_weight)
        t0 = time.perf_counter()
        model.learn(
            total_timesteps=config.steps, progress_bar=progress, tb_log_name=config.algo
        )
        seconds = time.perf_counter() - t0
    except WORKER_ERRORS as exc:
        if not hasattr(venv, "processes"):
            raise
        dead = _worker_died(venv, exc)
    finally:
        _close_venv(venv, dead is not None)
    if dead is not None:
        raise dead from None
    meta = PolicyMeta(
        kind="sb3",
        algo=config.algo,
        env_id=config.env_id,
        preset=config.preset,
        obs_mode=config.obs_mode,
        image_size=config.image_size,
        extra={
            "train": {k: v for k, v in asdict(config).items() if k != "hyperparams"},
            "hyperparams": _jsonable(config.algo_kwargs()),
            "preset_yaml": _preset_text(config.preset),
            "train_seconds": round(seconds, 1),
            "demo_steps": demo_steps,
            "sb3_version": sb3.__version__,
        },
    )
    path = save_sb3(model, config.out, meta)
    return TrainResult(path=path, meta=meta, seconds=seconds, steps=config.steps)


def _worker_died(venv: Any, exc: BaseException) -> VectorEnvWorkerError:
    """The error for an SB3 ``SubprocVecEnv`` whose worker process died."""
    from agents.rollout import worker_died

    return worker_died(venv, exc)


def _close_venv(venv: Any, worker_dead: bool) -> None:
    """Close an SB3 vector env; after a worker died, terminate the rest instead."""
    if not worker_dead:
        venv.close()
        return
    for proc in venv.processes:
        if proc.is_alive():
            proc.terminate()
        proc.join(timeout=5)
    for remote in getattr(venv, "remotes", []):
        remote.close()
    venv.closed = True


def _preset_text(preset: str | None) -> str | None:
    if preset is None:
        return None
    from randomizers.presets import preset_text

    return preset_text(preset)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)
