"""Feature-space SMOTE for event classifiers: from the state at step t, predict whether an
event starts within the next ``horizon`` steps; trained with and without SMOTE and scored on
held-out episodes (minority recall, balanced accuracy, PR-AUC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import gymnasium as gym
import numpy as np
from tqdm import tqdm

from agents.policies.experts import make_expert
from envs.events import check_event
from envs.panda_env import PandaTaskEnv
from envs.seeding import action_rng, episode_seed


@dataclass
class StepData:
    """Per-step features and labels, with the episode each step came from."""

    X: np.ndarray
    y: np.ndarray
    episode: np.ndarray


def collect_steps(
    env_id: str,
    preset: Any,
    event: str,
    *,
    episodes: int,
    horizon: int = 5,
    policy: str = "expert",
    seed: int = 0,
    progress: bool = True,
) -> StepData:
    """Roll out episodes in ``state`` mode; label step t positive when ``event`` fires at
    one of the steps t+1 .. t+horizon. A random policy draws its actions from
    :func:`envs.seeding.action_rng` of the episode seed, independent of the initial state."""
    check_event(event)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if episodes < 2:
        raise ValueError(
            f"episodes must be >= 2 (training and held-out episodes), got {episodes}"
        )
    if policy not in ("random", "expert"):
        raise ValueError(f"unknown policy {policy!r}; allowed: random, expert")
    env = gym.make(env_id, obs_mode="state", randomization=preset)
    expert = make_expert(env_id) if policy == "expert" else None
    feats, labels, owner = [], [], []
    try:
        for i in tqdm(range(episodes), desc="rollouts", unit="ep", disable=not progress):
            s = episode_seed(seed, i)
            obs, _ = env.reset(seed=s)
            rng = action_rng(s)
            if expert is not None:
                expert.reset()
            states, fired = [obs], []
            done = False
            while not done:
                if expert is not None:
                    action = expert(cast(PandaTaskEnv, env.unwrapped).privileged_state())
                else:
                    action = rng.uniform(-1, 1, env.action_space.shape)
                obs, _, term, trunc, info = env.step(action)
                fired.append(event in info["events"])
                states.append(obs)
                done = term or trunc
            onsets = np.flatnonzero(fired) + 1  # fired[j] happened on step j + 1
            for t in range(len(states) - 1):
                feats.append(states[t])
                labels.append(int(np.any((onsets > t) & (onsets <= t + horizon))))
                owner.append(i)
    finally:
        env.close()
    return StepData(np.asarray(feats, np.float64), np.asarray(labels), np.asarray(owner))


def evaluate(
    data: StepData, *, test_fraction: float = 0.3, use_smote: bool, seed: int = 0,
    k_neighbors: int = 5,
) -> dict[str, float]:  # fmt: skip
    """Train a scaled logistic regression on the first episodes, score on the rest."""
    try:
        from imblearn.over_sampling import SMOTE
        from imblearn.pipeline import make_pipeline
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import average_precision_score, balanced_accuracy_score, recall_score
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise ImportError("the failure predictor needs: pip install -e '.[balance]'") from None
    n_eps = int(data.episode.max()) + 1
    split = int(round(n_eps * (1 - test_fraction)))
    train, test = data.episode < split, data.episode >= split
    n_pos = int(data.y[train].sum())
    if n_pos < k_neighbors + 1:
        raise ValueError(
            f"found {n_pos} positive training steps; SMOTE needs at least k_neighbors + 1 = "
            f"{k_neighbors + 1}. Collect more episodes or lower k_neighbors."
        )
    if data.y[test].sum() == 0:
        raise ValueError("the held-out episodes contain no positive step; collect more episodes")
    steps: list[Any] = [StandardScaler()]
    if use_smote:
        steps.append(SMOTE(k_neighbors=k_neighbors, random_state=seed))
    steps.append(LogisticRegression(max_iter=2000))
    model = make_pipeline(*steps)
    model.fit(data.X[train], data.y[train])
    scores = model.predict_proba(data.X[test])[:, 1]
    pred = (scores >= 0.5).astype(int)
    y = data.y[test]
    return {
        "recall": float(recall_score(y, pred, zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "pr_auc": float(average_precision_score(y, scores)),
        "train_positives": n_pos,
        "test_positives": int(y.sum()),
        "test_steps": int(len(y)),
    }
