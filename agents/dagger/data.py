"""DAgger data collection: episodes in which the privileged expert or the learner acts, every
frame labelled with the expert's action and the projected keypoints (:class:`Frames`), and
the per-step appearance resampling that makes each frame a new domain of the preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from agents.dagger.net import KEYPOINTS, STATE_KEYS, DaggerPolicy
from agents.policies.bc import PROPRIO_NAMES
from agents.policies.experts import make_expert
from envs.seeding import episode_seed

APPEARANCE_KINDS = ("texture", "lighting", "camera", "image_noise")
"""randomizer kinds resampled every step with ``resample_appearance`` (never physics, poses
or distractors, which would change the state trajectory)"""


@dataclass
class Frames:
    """Aggregated DAgger data: uint8 images (N, 3, H, W), raw proprioception (N, P), expert
    actions (N, A), keypoint labels (N, K, 2) in [-1, 1] and whether each lies in view."""

    images: torch.Tensor
    proprio: torch.Tensor
    actions: torch.Tensor
    keypoints: torch.Tensor
    valid: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def extend(self, other: Frames) -> Frames:
        """Both sets of frames, this one first."""
        pairs = zip(self.parts(), other.parts(), strict=True)
        return Frames(*(torch.cat([a, b]) for a, b in pairs))

    def parts(self) -> tuple[torch.Tensor, ...]:
        """The tensors in field order."""
        return (self.images, self.proprio, self.actions, self.keypoints, self.valid)


def resample_appearance(env: Any, rng: np.random.Generator) -> None:
    """Draw and apply new appearance params (:data:`APPEARANCE_KINDS`) of the env's preset."""
    u = env.unwrapped
    if u.randomizer is None:
        return
    for r in u.randomizer.randomizers:
        if r.kind in APPEARANCE_KINDS:
            r.apply(u.scene, r.sample(rng))


def _labels(u: Any, state: dict[str, np.ndarray], names: tuple[str, ...], size: int
            ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    uv = u.camera.project(np.stack([np.asarray(state[STATE_KEYS[k]]) for k in names]))
    ok = np.isfinite(uv).all(1) & (uv >= 0).all(1) & (uv < size).all(1)
    return np.nan_to_num(uv / size * 2.0 - 1.0).astype(np.float32), ok


@dataclass
class Collected:
    """One iteration's frames and episode outcomes."""

    frames: Frames
    successes: list[bool]
    lengths: list[int]


def collect(env: Any, env_id: str, policy: DaggerPolicy | None, *, episodes: int, beta: float,
            seed: int, start: int, resample: bool, proprio_indices: list[int],
            record: bool = True, bar: tqdm | None = None) -> Collected:  # fmt: skip
    """Run ``episodes`` episodes (seeds ``episode_seed(seed, start + i)``): the expert acts
    with probability ``beta`` per step, else ``policy``; every frame is labelled with the
    expert's action and the projected keypoints (``record=False``: outcomes only)."""
    names = KEYPOINTS[env_id]
    size = int(env.observation_space["rgb"].shape[0])
    u = env.unwrapped
    expert = make_expert(env_id)
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("img", "p", "a", "kp", "ok")}
    successes, lengths = [], []
    for i in range(episodes):
        s = episode_seed(seed, start + i)
        rng = np.random.default_rng([s, 1])  # mixing and appearance: not the env's stream
        obs, _ = env.reset(seed=s)
        expert.reset()
        done, n, info = False, 0, {}
        while not done:
            state = u.privileged_state()
            label = expert(state)
            if record:
                kp, ok = _labels(u, state, names, size)
                rows["img"].append(obs["rgb"].transpose(2, 0, 1))
                rows["p"].append(obs["state"][proprio_indices])
                rows["a"].append(label)
                rows["kp"].append(kp)
                rows["ok"].append(ok)
            act = label if policy is None or rng.random() < beta else policy.act(obs)
            if resample:
                resample_appearance(env, rng)
            obs, _, term, trunc, info = env.step(act)
            done, n = bool(term or trunc), n + 1
            if bar is not None:
                bar.update(1)
        successes.append(bool(info.get("is_success", False)))
        lengths.append(n)
        if bar is not None:
            bar.set_postfix(success=f"{np.mean(successes):.2f}")
    frames = _frames(rows, size, names) if record else _frames({}, size, names)
    return Collected(frames, successes, lengths)


def _frames(rows: dict[str, list[np.ndarray]], size: int, names: tuple[str, ...]) -> Frames:
    if not rows.get("img"):
        k = len(names)
        return Frames(torch.zeros(0, 3, size, size, dtype=torch.uint8), torch.zeros(0, len(PROPRIO_NAMES)),
                      torch.zeros(0, 1), torch.zeros(0, k, 2), torch.zeros(0, k, dtype=torch.bool))  # fmt: skip
    return Frames(
        images=torch.from_numpy(np.stack(rows["img"])),
        proprio=torch.from_numpy(np.stack(rows["p"]).astype(np.float32)),
        actions=torch.from_numpy(np.stack(rows["a"]).astype(np.float32)),
        keypoints=torch.from_numpy(np.stack(rows["kp"])),
        valid=torch.from_numpy(np.stack(rows["ok"])),
    )
