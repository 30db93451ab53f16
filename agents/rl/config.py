"""What to train: :class:`TrainConfig` (validated on construction, before any env is
built) and :class:`TrainResult`."""

from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.policies.contract import PolicyMeta
from agents.rl.hyperparams import (
    DEFAULT_HYPERPARAMS,
    PRETRAINED_HYPERPARAMS,
    HyperparamError,
    check_hyperparams,
)
from agents.vector import check_image_size

ALGOS: tuple[str, ...] = ("sac", "ppo")
VEC_ENVS: tuple[str, ...] = ("auto", "dummy", "subproc")
MIN_CNN_IMAGE_SIZE = 36
"""the smallest image SB3's NatureCNN (8x8/4, 4x4/2, 3x3/1 convolutions) can take"""


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
    """overrides of :data:`~agents.rl.hyperparams.DEFAULT_HYPERPARAMS` (SB3 keyword arguments), each checked
    against :data:`~agents.rl.hyperparams.HYPERPARAMS` (type and range) on construction"""
    tensorboard: bool = True
    """log to TensorBoard (needs the ``tensorboard`` package)"""
    torch_threads: int = 1
    """torch CPU threads (small MLPs gain nothing from more, and they starve the envs)"""

    def __post_init__(self) -> None:
        from envs.panda_env import OBS_MODES
        from envs.registration import check_env_id

        object.__setattr__(self, "env_id", check_env_id(self.env_id))  # module:Id -> Id
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
        object.__setattr__(self, "hyperparams", check_hyperparams(self.algo, self.hyperparams))
        _check_combination(self)

    def algo_kwargs(self) -> dict[str, Any]:
        """The SB3 keyword arguments: defaults (and :data:`~agents.rl.hyperparams.PRETRAINED_HYPERPARAMS` after
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
