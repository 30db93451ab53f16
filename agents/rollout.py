"""Run episodes of a policy on one or many envs and summarize success, return and events.

Episode ``i`` of a run is a pure function of ``(env_id, env kwargs, seed, i)``: its reset
seed comes from :func:`envs.seeding.episode_seed`, and a random policy's actions from
:func:`envs.seeding.action_rng` of that seed (a stream independent of the domain and the
initial state), so one env and ``K`` parallel envs produce the same episodes.

A vector-env worker process that dies (killed for memory, a crash in native code) ends the
run with :class:`agents.vector.VectorEnvWorkerError`, not an ``EOFError`` or a hang.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from agents.episodes import EpisodeResult, RolloutSummary
from agents.policies.contract import LoadedPolicy, is_checkpoint
from agents.policies.experts import EXPERTS, Expert, make_expert
from agents.policies.loading import load_policy, policy_meta
from agents.policies.spaces import check_spaces
from agents.recording.steps import StepEvent, report_steps, take_row
from agents.vector import (
    WORKER_ERRORS,
    VectorEnvWorkerError,
    check_image_size,
    close_vector_env,
    worker_died,
)
from envs.events import EVENT_NAMES
from envs.registration import state_names
from envs.seeding import action_rng, episode_seed

POLICIES = ("random", "expert", "pixel-expert")
"""built-in policies; ``RolloutConfig.policy`` also takes a checkpoint path (.zip or .pt)"""
PIXEL_OBS_MODE = "state+rgb"
DEFAULT_IMAGE_SIZE = 128


@dataclass(frozen=True)
class RolloutConfig:
    """What to run."""

    env_id: str = "domrand/Reach-v0"
    """registered env id"""
    episodes: int = 10
    """number of episodes"""
    policy: str = "expert"
    """``random`` (uniform actions), ``expert`` (the scripted expert of the task),
    ``pixel-expert`` (localizers on the RGB image -> the scripted expert,
    :mod:`agents.policies.pixel_expert`) or the path of a policy checkpoint (``.zip`` SB3, ``.pt``
    behaviour cloning)"""
    obs_mode: str | None = None
    """observation mode of the env; None: the checkpoint's, or ``state``"""
    seed: int = 0
    """run seed; episode i uses ``episode_seed(seed, i)``"""
    num_envs: int = 1
    """parallel envs; > 1 uses Gymnasium's AsyncVectorEnv (one process each); a run uses
    at most one per episode and per CPU (:meth:`envs_to_run`)"""
    image_size: int | None = None
    """observation image size for image modes (1..MAX_IMAGE_SIZE px); None: the
    checkpoint's, or :data:`DEFAULT_IMAGE_SIZE`"""
    video_episodes: int = 0
    """record this many episodes (from the first env) as frames"""
    render_size: int = 256
    """size of recorded video frames"""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """extra keyword arguments for ``gym.make``"""
    localizers: dict[str, str] = field(default_factory=dict)
    """``pixel-expert`` only: role (``object``, ``goal``) -> localizer checkpoint, replacing
    the shipped ones in ``assets/models``"""
    first_episode: int = 0
    """index of the run's first episode (a resumed recording continues after the recorded
    ones): the run is episodes ``first_episode .. first_episode + episodes - 1``"""

    def __post_init__(self) -> None:
        if self.image_size is not None:
            check_image_size(self.image_size)
        if self.localizers and self.policy != "pixel-expert":
            raise ValueError("localizer checkpoints are for --policy pixel-expert")
        if self.policy == "pixel-expert":
            self._pixel_expert_settings()
        if is_checkpoint(self.policy):
            meta = policy_meta(self.policy)  # missing or corrupt files fail here
            meta.check(env_id=self.env_id, obs_mode=self.obs_mode)
            if self.image_size is not None and self.image_size != meta.image_size:
                if meta.obs_mode != "state":
                    raise ValueError(
                        f"the policy was trained on {meta.image_size} px images; you asked for "
                        f"image_size {self.image_size}: leave it unset or use {meta.image_size}"
                    )
            object.__setattr__(self, "obs_mode", self.obs_mode or meta.obs_mode)
            object.__setattr__(self, "image_size", self.image_size or meta.image_size)
        elif self.policy not in POLICIES:
            raise ValueError(
                f"unknown policy {self.policy!r}; allowed: {', '.join(POLICIES)} or the path "
                f"of a checkpoint (.zip from scripts/train_policy.py, or .pt)"
            )
        object.__setattr__(self, "obs_mode", self.obs_mode or "state")
        if self.image_size is None:
            object.__setattr__(self, "image_size", DEFAULT_IMAGE_SIZE)
        if self.policy == "expert" and self.env_id not in EXPERTS:
            raise ValueError(
                f"no expert for {self.env_id!r}; experts exist for: {', '.join(EXPERTS)}"
            )
        for name in ("episodes", "num_envs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.first_episode < 0:
            raise ValueError(f"first_episode must be >= 0, got {self.first_episode}")
        if self.video_episodes < 0:
            raise ValueError(f"video_episodes must be >= 0, got {self.video_episodes}")
        if self.video_episodes:
            check_image_size(self.render_size, "render_size")
        preset = self.env_kwargs.get("randomization")
        if isinstance(preset, str):
            from randomizers.presets import load_preset

            load_preset(preset)  # an unknown preset fails here (PresetError), not in a worker

    def _pixel_expert_settings(self) -> None:
        """The pixel expert reads ``state+rgb`` at its localizers' image size."""
        from agents.policies.pixel_expert import load_localizers

        size = next(iter(load_localizers(self.env_id, self.localizers).values())).image_size
        if self.obs_mode not in (None, PIXEL_OBS_MODE):
            raise ValueError(f"the pixel expert reads {PIXEL_OBS_MODE!r} observations; "
                             f"drop --obs-mode {self.obs_mode}")  # fmt: skip
        if self.image_size not in (None, size):
            raise ValueError(f"the pixel expert's localizers were trained on {size} px images; "
                             f"you asked for image_size {self.image_size}: leave it unset")  # fmt: skip
        object.__setattr__(self, "obs_mode", PIXEL_OBS_MODE)
        object.__setattr__(self, "image_size", size)

    def envs_to_run(self) -> int:
        """The envs a run uses: ``num_envs``, but no more than the episodes (an idle env
        is a process doing nothing) or the CPUs (more processes than cores only slow each
        other down)."""
        return max(1, min(self.num_envs, self.episodes, os.cpu_count() or 1))


def _stderr_note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def summarize(
    config: RolloutConfig, results: list[EpisodeResult], seconds: float
) -> RolloutSummary:
    """Aggregate episode results."""
    returns = np.array([r.episode_return for r in results])
    lengths = np.array([r.length for r in results])
    return RolloutSummary(
        env_id=config.env_id,
        policy=config.policy,
        episodes=len(results),
        success_rate=float(np.mean([r.success for r in results])),
        mean_return=float(returns.mean()),
        std_return=float(returns.std()),
        mean_length=float(lengths.mean()),
        event_counts={e: int(sum(r.events.get(e, 0) for r in results)) for e in EVENT_NAMES},
        episodes_with_event={
            e: int(sum(r.events.get(e, 0) > 0 for r in results)) for e in EVENT_NAMES
        },
        seconds=seconds,
        steps_per_second=float(lengths.sum() / max(seconds, 1e-9)),
    )


def make_vector_env(config: RolloutConfig) -> gym.vector.SyncVectorEnv | gym.vector.AsyncVectorEnv:
    """A vector env with manual resets (so every episode gets its own derived seed)."""
    kwargs = dict(config.env_kwargs)
    kwargs.setdefault("obs_mode", config.obs_mode)
    kwargs.setdefault("image_size", config.image_size)
    if config.video_episodes:
        kwargs.setdefault("render_mode", "rgb_array")
        kwargs.setdefault("render_size", config.render_size)
    mode = "async" if config.num_envs > 1 else "sync"
    return gym.make_vec(  # type: ignore[return-value]
        config.env_id,
        num_envs=config.num_envs,
        vectorization_mode=mode,
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.DISABLED},
        **kwargs,
    )


def run_rollouts(
    config: RolloutConfig,
    *,
    progress: bool = True,
    on_frame: Callable[[np.ndarray], None] | None = None,
    randomizations: Sequence[Mapping[str, Any]] | None = None,
    note: Callable[[str], None] | None = None,
    on_step: Callable[[StepEvent], None] | None = None,
) -> tuple[RolloutSummary, list[EpisodeResult]]:
    """Run ``config.episodes`` episodes and return the summary and per-episode results.

    At most :meth:`RolloutConfig.envs_to_run` envs run (never more than the episodes or the
    CPUs); a smaller count than ``config.num_envs`` is said through ``note`` (default: one
    ``note: ...`` line on stderr) and changes no episode.

    ``on_frame`` receives the rendered frames of the first ``video_episodes`` episodes
    that run in env 0. ``randomizations`` (one params dict per episode) replays given
    params instead of sampling them (re-simulation). ``on_step`` receives every reset and
    step of every episode as a :class:`StepEvent`, in the order they happen.
    """
    if randomizations is not None and len(randomizations) != config.episodes:
        raise ValueError(
            f"randomizations must hold one params dict per episode ({config.episodes}), "
            f"got {len(randomizations)}"
        )
    num_envs = config.envs_to_run()
    if num_envs < config.num_envs:
        (note or _stderr_note)(
            f"--num-envs {config.num_envs} capped to {num_envs} ({config.episodes} episodes, "
            f"{os.cpu_count() or 1} CPUs); the episodes are the same for any number of envs"
        )
        config = replace(config, num_envs=num_envs)
    envs = make_vector_env(config)
    n = config.num_envs
    space = envs.single_action_space
    experts: list[Expert | None] = [
        make_expert(config.env_id) if config.policy == "expert" else None for _ in range(n)
    ]
    pixel: list[Any] = []
    if config.policy == "pixel-expert":
        from agents.policies.pixel_expert import PixelExpert, load_localizers
        from envs.tasks.push import GOAL_DISTANCE

        locs = load_localizers(config.env_id, config.localizers)
        names = state_names(config.env_id)
        task_kwargs = dict(config.env_kwargs.get("task_kwargs") or {})
        lo, hi = task_kwargs.get("goal_distance", GOAL_DISTANCE)  # Push's cube-goal prior
        ws = config.env_kwargs.get("workspace")  # the hand's reach bounds the peaks it trusts
        pixel = [PixelExpert(config.env_id, locs, names, goal_distance=(lo, hi), workspace=ws)
                 for _ in range(n)]  # fmt: skip
    learned: LoadedPolicy | None = None
    if is_checkpoint(config.policy):
        try:  # the recorded spaces are checked before any weights are read
            check_spaces(policy_meta(config.policy), envs.single_observation_space, space,
                         where=repr(config.policy))  # fmt: skip
            learned = load_policy(config.policy, env_id=config.env_id, obs_mode=config.obs_mode)
        except BaseException:
            envs.close()
            raise
    obs: Any = None
    rngs: list[np.random.Generator | None] = [None] * n
    slot_episode = [-1] * n
    slot_params: list[dict[str, Any]] = [{} for _ in range(n)]
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=int)
    results: list[EpisodeResult] = []
    next_episode = config.first_episode
    end_episode = config.first_episode + config.episodes
    recorded = 0
    local_env = envs.envs[0].unwrapped if isinstance(envs, gym.vector.SyncVectorEnv) else None
    recording = False

    def assign(mask: np.ndarray) -> None:
        nonlocal next_episode, recording, obs
        seeds: list[int | None] = [None] * n
        for i in np.flatnonzero(mask).tolist():
            idx = next_episode if next_episode < end_episode else -1
            next_episode += idx >= 0
            slot_episode[i] = idx
            s = episode_seed(config.seed, max(idx, 0))
            seeds[i] = s
            rngs[i] = action_rng(s)
            returns[i], lengths[i] = 0.0, 0
            if experts[i] is not None:
                experts[i].reset()  # type: ignore[union-attr]
            if pixel:
                pixel[i].reset()
            if i == 0:
                recording = idx >= 0 and recorded < config.video_episodes
        if randomizations is None:
            obs = envs.reset(seed=seeds, options={"reset_mask": mask})[0]
        else:  # different params per env: one masked reset each
            for i in np.flatnonzero(mask).tolist():
                one = np.zeros(n, dtype=bool)
                one[i] = True
                options: dict[str, Any] = {"reset_mask": one}
                if slot_episode[i] >= 0:
                    options["randomization"] = dict(
                        randomizations[slot_episode[i] - config.first_episode]
                    )
                obs = envs.reset(seed=seeds, options=options)[0]
        current = envs.get_attr("randomization")
        for i in np.flatnonzero(mask).tolist():
            slot_params[i] = current[i]
            if on_step is not None and slot_episode[i] >= 0:
                on_step(StepEvent(slot_episode[i], seeds[i], 0, take_row(obs, i), slot_params[i],  # type: ignore[arg-type]
                                  local_env))  # fmt: skip

    t0 = time.perf_counter()
    bar = tqdm(total=config.episodes, unit="ep", disable=not progress, desc=config.env_id)
    dead: VectorEnvWorkerError | None = None
    try:
        assign(np.ones(n, dtype=bool))
        if recording and on_frame is not None:
            on_frame(envs.call("render")[0])
        while len(results) < config.episodes:
            actions = np.zeros((n, *(space.shape or ())), dtype=np.float32)
            if learned is not None:
                for i in range(n):  # one row at a time: results independent of num_envs
                    actions[i] = learned.act(_row(obs, i))[0]
            elif pixel:
                for i in range(n):
                    actions[i] = pixel[i]({k: v[i] for k, v in obs.items()})
            elif config.policy == "expert":
                states = envs.call("privileged_state")
                for i in range(n):
                    actions[i] = experts[i](states[i])  # type: ignore[misc]
            else:
                for i in range(n):
                    actions[i] = rngs[i].uniform(-1, 1, size=space.shape)  # type: ignore[union-attr]
            obs, rewards, terms, truncs, infos = envs.step(actions)
            returns += rewards
            lengths += 1
            if on_step is not None:
                report_steps(on_step, obs, actions, rewards, terms, truncs, infos,
                              slot_episode, lengths, slot_params, config.seed, local_env)  # fmt: skip
            if recording and on_frame is not None:
                on_frame(envs.call("render")[0])
            done = np.logical_or(terms, truncs)
            for i in np.flatnonzero(done).tolist():
                idx = slot_episode[i]
                if idx < 0:
                    continue
                results.append(
                    EpisodeResult(
                        index=idx,
                        seed=episode_seed(config.seed, idx),
                        success=bool(infos["is_success"][i]),
                        episode_return=float(returns[i]),
                        length=int(lengths[i]),
                        events={k: int(v) for k, v in _episode_events(infos, i).items()},
                        params=slot_params[i],
                    )
                )
                bar.update(1)
                if i == 0 and recording:
                    recorded += 1
            if done.any():
                assign(done)
                if recording and on_frame is not None and done[0]:
                    on_frame(envs.call("render")[0])
    except WORKER_ERRORS as exc:
        if n == 1:
            raise
        dead = worker_died(envs, exc)
    finally:
        bar.close()
        close_vector_env(envs, dead is not None)
    if dead is not None:
        raise dead from None
    results.sort(key=lambda r: r.index)
    return summarize(config, results, time.perf_counter() - t0), results


def _row(obs: Any, i: int) -> Any:
    """Env ``i``'s observation as a batch of one (an array, or a dict of arrays)."""
    if isinstance(obs, Mapping):
        return {k: v[i : i + 1] for k, v in obs.items()}
    return obs[i : i + 1]


def _episode_events(infos: dict[str, Any], i: int) -> dict[str, int]:
    counts = infos["episode_events"]
    return {name: counts[name][i] for name in counts if not name.startswith("_")}
