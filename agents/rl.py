"""Reinforcement learning with Stable-Baselines3 on the domrand envs (SAC or PPO).

:func:`train` builds a vector env of ``gym.make(env_id, randomization=preset, ...)``, trains,
logs to TensorBoard next to the checkpoint and saves a ``.zip`` whose ``domrand.json``
member (:class:`agents.policies.PolicyMeta`) records the env id, preset and obs mode.

SAC can start from the scripted expert, which is what makes Push learn in minutes on a
CPU (plain SAC showed no successes in its first 30k steps): ``demos`` expert episodes,
collected in the same randomized training envs, fill the replay buffer (Vecerik et al.
2017); ``pretrain_steps`` behaviour-clones the actor on them and warms the critic up;
``bc_weight`` keeps a Q-filtered behaviour-cloning term in the actor loss during RL
(Nair et al. 2018) so that fine-tuning improves on the clone instead of unlearning it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.policies import PolicyMeta, check_output_file, save_sb3
from agents.rollout import WORKER_ERRORS, VectorEnvWorkerError, check_image_size

ALGOS: tuple[str, ...] = ("sac", "ppo")
VEC_ENVS: tuple[str, ...] = ("auto", "dummy", "subproc")
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
    """overrides of :data:`DEFAULT_HYPERPARAMS` (SB3 keyword arguments)"""
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
        if self.demos < 0 or self.pretrain_steps < 0:
            raise ValueError(
                f"demos and pretrain_steps must be >= 0, got {self.demos}, {self.pretrain_steps}"
            )
        if (self.pretrain_steps or self.bc_weight) and not self.demos:
            raise ValueError("pretrain_steps and bc_weight learn from expert demos: set demos > 0")
        if self.bc_weight < 0:
            raise ValueError(f"bc_weight must be >= 0, got {self.bc_weight}")
        if self.demos and self.algo != "sac":
            raise ValueError("demos fill a replay buffer, so they need an off-policy algo: --algo sac")
        if self.demos:
            from agents.experts import EXPERTS

            if self.env_id not in EXPERTS:
                raise ValueError(f"demos need a scripted expert; none exists for {self.env_id}")
        if not self.out.lower().endswith(".zip"):
            raise ValueError(f"out must be a .zip path (an SB3 checkpoint), got {self.out!r}")
        if self.preset is not None:
            from randomizers.presets import load_preset

            load_preset(self.preset)  # a bad preset fails now, not in a worker process
        _check_hyperparams(self.algo, self.hyperparams)

    def algo_kwargs(self) -> dict[str, Any]:
        """The SB3 keyword arguments: defaults (and :data:`PRETRAINED_HYPERPARAMS` after
        pretraining), then the overrides."""
        pretrained = PRETRAINED_HYPERPARAMS if self.pretrain_steps else {}
        return {**DEFAULT_HYPERPARAMS[self.algo], **pretrained, **self.hyperparams}

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


def _check_hyperparams(algo: str, hyperparams: dict[str, Any]) -> None:
    import stable_baselines3 as sb3

    cls = {"sac": sb3.SAC, "ppo": sb3.PPO}[algo]
    allowed = set(inspect.signature(cls).parameters) - {
        "policy", "env", "seed", "tensorboard_log", "device", "verbose", "_init_setup_model",
    }  # fmt: skip
    unknown = sorted(set(hyperparams) - allowed)
    if unknown:
        raise ValueError(
            f"unknown {algo} hyperparameter(s) {unknown}; allowed: {', '.join(sorted(allowed))}"
        )


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

    from agents.experts import make_expert

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
    ``scripts/train_policy.py --force``). A subprocess env worker that dies raises
    :class:`agents.rollout.VectorEnvWorkerError`."""
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
        model = cls(
            config.policy_name(), venv, seed=config.seed, tensorboard_log=tb_dir,
            device="cpu", verbose=verbose, **config.algo_kwargs(),
        )  # fmt: skip
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
