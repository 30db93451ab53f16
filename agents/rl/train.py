"""Train SAC or PPO on a domrand env and save the checkpoint with its meta.

:func:`train` builds a vector env of ``gym.make(env_id, randomization=preset, ...)``, trains,
logs to TensorBoard next to the checkpoint and saves a ``.zip`` whose ``domrand.json``
member (:class:`agents.policies.contract.PolicyMeta`) records the env id, preset and obs mode.

SAC can start from the scripted expert (:mod:`agents.rl.expert_demos`), which is what makes
Push learn in minutes on a CPU (plain SAC showed no successes in its first 30k steps).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import torch

from agents.outputs import check_output_file
from agents.policies.contract import PolicyMeta
from agents.policies.sb3 import save_sb3
from agents.rl.config import TrainConfig, TrainResult
from agents.rl.expert_demos import add_expert_demos, install_demo_regularizer, pretrain_from_demos
from agents.rl.hyperparams import HyperparamError
from agents.vector import WORKER_ERRORS, VectorEnvWorkerError, close_sb3_vec_env, worker_died


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


def train(config: TrainConfig, *, progress: bool = True, verbose: int = 0) -> TrainResult:
    """Train ``config.algo`` on ``config.env_id`` and save the checkpoint with its meta.

    The output path is checked first (a folder, or a folder that cannot be written, fails
    before any training; replacing existing files is the caller's decision, see
    ``scripts/train_policy.py --force``). Hyperparameters that Stable-Baselines3's
    constructor refuses raise :class:`HyperparamError` (before any demo is collected). A
    subprocess env worker that dies raises :class:`agents.vector.VectorEnvWorkerError`."""
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
        dead = worker_died(venv, exc)
    finally:
        close_sb3_vec_env(venv, dead is not None)
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
