"""A trained LeRobot policy (a ``pretrained_model`` folder written by ``lerobot-train``) acting
in this project's envs, and its success rate on the same seeded episodes as
``scripts/rollout.py`` (``rollout.py --lerobot-policy DIR``).

The policy reads what :mod:`agents.recording.lerobot` stores: ``observation.images.<camera>``
(RGB in [0, 1], channels first) and ``observation.state`` (proprioception); LeRobot's own
pre- and post-processors (normalization, device) saved beside the weights are applied.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from agents.episodes import EpisodeResult, RolloutSummary
from agents.recording.lerobot import PROPRIO, import_lerobot
from agents.rollout import PIXEL_OBS_MODE, RolloutConfig, summarize
from envs.seeding import episode_seed

IMAGES = "observation.images."


class LeRobotPolicy:
    """A LeRobot policy with ``reset()`` per episode and ``act(obs) -> action`` on one
    ``state+rgb`` observation of this project's env."""

    def __init__(self, path: str | Path, *, state_names: list[str], task: str = "") -> None:
        import_lerobot()
        import torch
        from lerobot.configs.policies import PreTrainedConfig
        from lerobot.policies.factory import get_policy_class, make_pre_post_processors

        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"{str(folder)!r} is not a LeRobot pretrained_model folder (no config.json); "
                "give e.g. outputs/train/act/checkpoints/last/pretrained_model"
            )
        config = PreTrainedConfig.from_pretrained(str(folder))
        config.device = "cpu"
        self.policy = get_policy_class(config.type).from_pretrained(str(folder), config=config)
        self.policy.eval()
        self.pre, self.post = make_pre_post_processors(
            config, pretrained_path=str(folder),
            preprocessor_overrides={"device_processor": {"device": "cpu"}},
        )  # fmt: skip
        self.cameras = [k[len(IMAGES) :] for k in config.input_features if k.startswith(IMAGES)]
        if not self.cameras:
            raise ValueError(f"the policy in {str(folder)!r} reads no camera image")
        self.image_size = int(config.input_features[IMAGES + self.cameras[0]].shape[-1])
        self.proprio = [state_names.index(n) for n in PROPRIO]
        self.task = task
        self._torch = torch

    def reset(self) -> None:
        """Forget the previous episode (action chunks, temporal ensembles)."""
        self.policy.reset()

    def act(self, obs: Mapping[str, Any]) -> np.ndarray:
        """The action for one observation (a dict with ``rgb`` and ``state``)."""
        torch = self._torch
        rgb = obs["rgb"]
        images = rgb if isinstance(rgb, Mapping) else {self.cameras[0]: rgb}
        batch: dict[str, Any] = {
            IMAGES + cam: torch.from_numpy(np.ascontiguousarray(images[cam]))
            .permute(2, 0, 1)[None]
            .float()
            / 255.0
            for cam in self.cameras
        }
        state = np.asarray(obs["state"], dtype=np.float32)[self.proprio]
        batch["observation.state"] = torch.from_numpy(state)[None]
        batch["task"] = [self.task]
        with torch.inference_mode():
            action = self.post(self.policy.select_action(self.pre(batch)))
        return np.asarray(action.squeeze(0).cpu().numpy(), dtype=np.float32)


def evaluate_lerobot_policy(
    path: str | Path,
    env_id: str,
    *,
    episodes: int,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> tuple[RolloutSummary, list[EpisodeResult]]:
    """Run ``episodes`` episodes (episode ``i`` reset with ``episode_seed(seed, i)``, as every
    rollout of this project) and summarize them like :func:`agents.rollout.run_rollouts`."""
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    probe = RolloutConfig(env_id=env_id, episodes=episodes, policy="random", seed=seed,
                          env_kwargs=dict(env_kwargs or {}))  # validates env id and preset  # fmt: skip
    from agents.recording.lerobot import default_task

    names = list(gym.make(env_id).unwrapped.task.state_names)  # type: ignore[attr-defined]
    policy = LeRobotPolicy(path, state_names=names, task=default_task(env_id))
    env = gym.make(env_id, obs_mode=PIXEL_OBS_MODE, image_size=policy.image_size,
                   **dict(env_kwargs or {}))  # fmt: skip
    results: list[EpisodeResult] = []
    t0 = time.perf_counter()
    try:
        for i in tqdm(range(episodes), unit="ep", disable=not progress, desc=env_id):
            s = episode_seed(seed, i)
            obs, info = env.reset(seed=s)
            policy.reset()
            done, ret, length = False, 0.0, 0
            while not done:
                obs, reward, term, trunc, info = env.step(policy.act(obs))
                ret += float(reward)
                length += 1
                done = term or trunc
            results.append(EpisodeResult(
                index=i, seed=s, success=bool(info["is_success"]), episode_return=ret,
                length=length, events={k: int(v) for k, v in info["episode_events"].items()},
            ))  # fmt: skip
    finally:
        env.close()
    summary = summarize(probe, results, time.perf_counter() - t0)
    summary.policy = f"lerobot:{path}"
    return summary, results
