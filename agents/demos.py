"""Scripted-expert demonstrations as a Minari dataset (the Farama standard for offline
data, arrow backend): record them, read each episode's outcome and randomization back, and
load every step as behaviour-cloning :class:`agents.policies.bc.Demonstrations`."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from agents.episodes import EpisodeResult
from agents.policies.bc import OBS_MODE, PROPRIO_NAMES, Demonstrations
from agents.policies.experts import EXPERTS, make_expert
from agents.vector import check_image_size
from envs.seeding import episode_seed

EPISODE_KEY = "domrand"
"""key of the per-episode Minari metadata that :func:`record_demonstrations` adds"""


@dataclass
class Recording:
    """What :func:`record_demonstrations` wrote: the Minari dataset and every episode's
    outcome (seed, randomization params, success, return, events), in episode order."""

    dataset: Any
    results: list[EpisodeResult]
    seconds: float


def check_dataset_id(dataset_id: str) -> None:
    """Refuse (``ValueError``) a Minari dataset id that Minari would refuse only after the
    whole recording: ``(namespace/)name-v(version)``."""
    try:
        from minari.dataset.minari_dataset import parse_dataset_id
    except ImportError:
        raise ImportError(
            "recording demonstrations needs Minari (with its create extra): pip install 'domrand[offline]'"
        ) from None
    try:
        parse_dataset_id(dataset_id)
    except ValueError:
        raise ValueError(
            f"malformed Minari dataset id {dataset_id!r}; expected (namespace/)name-v(version), "
            f"e.g. domrand/reach-expert-v0"
        ) from None


def record_demonstrations(
    env_id: str,
    dataset_id: str,
    *,
    episodes: int,
    preset: str | None = None,
    image_size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> Recording:
    """Run the scripted expert on ``state+rgb`` observations through ``minari.DataCollector``
    (arrow backend, lossless images) and create the local Minari dataset ``dataset_id``.

    Episode ``i`` resets with ``episode_seed(seed, i)`` (visual randomization leaves the
    expert, which reads the privileged state, at its nominal success). Each episode's
    metadata keeps its ``seed`` (Minari's own key) and, under ``domrand``, its randomization
    params, success, return, length and events, so a demonstration's domain replays with
    ``env.reset(options={"randomization": params})`` (:func:`recorded_episodes` reads them).
    Datasets live in ``$MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``).
    """
    try:
        import minari
    except ImportError:
        raise ImportError(
            "recording demonstrations needs Minari (with its create extra): pip install 'domrand[offline]'"
        ) from None
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if env_id not in EXPERTS:
        raise ValueError(f"no expert for {env_id!r}; experts exist for: {', '.join(EXPERTS)}")
    check_image_size(image_size)
    check_dataset_id(dataset_id)
    if dataset_id in minari.list_local_datasets():
        raise FileExistsError(
            f"a Minari dataset {dataset_id!r} already exists in "
            f"{os.environ.get('MINARI_DATASETS_PATH', '~/.minari/datasets')}; choose another "
            f"name or delete it (minari.delete_dataset({dataset_id!r}))"
        )
    env = gym.make(env_id, obs_mode=OBS_MODE, image_size=image_size, randomization=preset)
    collector = minari.DataCollector(env, record_infos=False, data_format="arrow",
                                     jpeg_encoding=False)  # fmt: skip
    expert = make_expert(env_id)
    results: list[EpisodeResult] = []
    t0 = time.perf_counter()
    try:
        for i in tqdm(range(episodes), unit="ep", disable=not progress, desc=f"record {dataset_id}"):
            s = episode_seed(seed, i)
            _, info = collector.reset(seed=s)
            params = json.loads(json.dumps(info.get("randomization", {})))  # plain JSON data
            expert.reset()
            done, ret, length = False, 0.0, 0
            while not done:
                action = expert(env.unwrapped.privileged_state())  # type: ignore[attr-defined]
                _, reward, term, trunc, info = collector.step(action)
                ret += float(reward)
                length += 1
                done = term or trunc
            events = {str(k): int(v) for k, v in info.get("episode_events", {}).items()}
            results.append(EpisodeResult(index=i, seed=s, success=bool(info.get("is_success", False)),
                                         episode_return=ret, length=length, events=events,
                                         params=params))  # fmt: skip
        successes = sum(r.success for r in results)
        with warnings.catch_warnings():  # Minari asks for author / e-mail / code URL
            warnings.filterwarnings("ignore", message=r"`(author|author_email|code_permalink|eval_env)`")
            dataset = collector.create_dataset(
                dataset_id=dataset_id,
                algorithm_name="scripted expert (agents.policies.experts)",
                description=(
                    f"{episodes} scripted-expert episodes ({successes} successful) of {env_id} "
                    f"(obs_mode {OBS_MODE}, {image_size} px, preset {preset!r}, seed {seed})"
                ),
            )
        dataset.storage.update_episode_metadata(
            [{"seed": r.seed, EPISODE_KEY: {"randomization": r.params, "success": r.success,
              "return": r.episode_return, "length": r.length, "events": r.events}}
             for r in results],
            dataset.episode_indices.tolist(),
        )  # fmt: skip
    finally:
        collector.close()
        env.close()
    return Recording(dataset, results, time.perf_counter() - t0)


def recorded_episodes(dataset_id: str) -> list[dict[str, Any]]:
    """Per episode of a dataset recorded by :func:`record_demonstrations`: ``seed`` and the
    ``randomization`` params (replay with ``env.reset(options={"randomization": params})``),
    ``success``, ``return``, ``length`` and ``events``."""
    import minari

    dataset = minari.load_dataset(dataset_id)
    out = []
    for meta in dataset.storage.get_episode_metadata(dataset.episode_indices.tolist()):
        if EPISODE_KEY not in meta:
            raise ValueError(
                f"episode {meta.get('id')} of Minari dataset {dataset_id!r} records no "
                f"randomization params (recorded by an older domrand); record it again"
            )
        out.append({"seed": meta.get("seed"), **meta[EPISODE_KEY]})
    return out


def load_demonstrations(dataset_id: str) -> Demonstrations:
    """Read a Minari dataset recorded by :func:`record_demonstrations`."""
    import minari

    if dataset_id not in minari.list_local_datasets():
        raise FileNotFoundError(
            f"no local Minari dataset {dataset_id!r} (local: {sorted(minari.list_local_datasets())}); "
            f"record one with python scripts/rollout.py --policy expert --record {dataset_id}"
        )
    dataset = minari.load_dataset(dataset_id)
    env_spec = dataset.spec.env_spec
    if env_spec is None:
        raise ValueError(f"Minari dataset {dataset_id!r} records no env spec; record it again")
    env_id = env_spec.id
    preset = env_spec.kwargs.get("randomization")
    names = list(gym.make(env_id).unwrapped.task.state_names)  # type: ignore[attr-defined]
    idx = [names.index(n) for n in PROPRIO_NAMES]
    images, proprio, actions = [], [], []
    for ep in dataset.iterate_episodes():
        obs = ep.observations
        n = len(ep.actions)
        images.append(np.asarray(obs["rgb"][:n]).transpose(0, 3, 1, 2))
        proprio.append(np.asarray(obs["state"][:n])[:, idx])
        actions.append(np.asarray(ep.actions))
    return Demonstrations(
        images=torch.from_numpy(np.concatenate(images)),
        proprio=torch.from_numpy(np.concatenate(proprio).astype(np.float32)),
        actions=torch.from_numpy(np.concatenate(actions).astype(np.float32)),
        episodes=dataset.total_episodes,
        env_id=env_id,
        proprio_indices=idx,
        preset=preset if isinstance(preset, str) else None,
    )
