"""DAgger: distil the privileged scripted expert into a visuomotor policy (RGB image plus
proprioception, never the object state) in randomized simulation.

Iteration 0 rolls out the expert; iteration ``i`` rolls out a mixture that lets the expert
act at each step with probability ``beta_i = beta_decay ** i`` and the current learner
otherwise. One expert instance runs alongside every episode, called on the privileged state
at every step whatever acts, so its phase machine follows the visited trajectory; its action
labels the frame. The simulator also labels where the cube, the end effector and (Push) the
goal project in the image: an auxiliary heatmap loss on those keypoints
(:mod:`agents.dagger_net`). All data is aggregated; each iteration continues training on it
and is scored by learner-only rollouts on the training preset (validation seeds disjoint
from the training seeds); the best-scoring iteration is kept.

With ``resample_appearance`` the training episodes draw new appearance params (textures,
lighting, camera, image noise) of the preset at every step, not only at reset: the state
trajectory is the same, but every frame is a new domain drawn from the same preset.
Validation episodes keep one domain per episode, as rollouts do.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from tqdm import tqdm

from agents.policies.bc import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, OBS_MODE, PROPRIO_NAMES
from agents.checkpoints import save_checkpoint
from agents.dagger_net import (
    KEYPOINTS,
    STATE_KEYS,
    DaggerPolicy,
    KeypointNet,
    keypoint_loss,
    random_shift,
)
from agents.policies.experts import make_expert
from agents.localizer import local_soft_argmax, nominal_camera
from agents.policies.contract import PolicyMeta
from envs.seeding import episode_seed

NET_KIND = "keypoint"
"""``net`` entry of a behaviour-cloning checkpoint that holds a DAgger :class:`KeypointNet`"""
APPEARANCE_KINDS = ("texture", "lighting", "camera", "image_noise")
"""randomizer kinds resampled every step with ``resample_appearance`` (never physics, poses
or distractors, which would change the state trajectory)"""
VAL_SEED_OFFSET = 1_000_003
"""validation episodes use run seed + this: never a training episode's seed"""


@dataclass(frozen=True)
class DaggerConfig:
    """How to train (every setting chosen on randomized validation rollouts)."""

    iterations: int = 5
    """DAgger iterations; iteration 0 is the expert's"""
    episodes_per_iteration: int = 120
    epochs: float = 3.0
    """training samples per iteration = epochs x the frames collected in it (drawn uniformly
    from all the data so far)"""
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 16
    hidden: int = 256
    shift: int = 2
    """random-shift augmentation (px); keypoint labels shift with the image"""
    aux_weight: float = 1.0
    """weight of the keypoint heatmap loss next to the action MSE"""
    head_steps: int = 2000
    """extra updates of the action head alone per iteration, on the keypoints the trunk
    predicts for every frame so far (the joint updates alone are too few for it)"""
    head_noise: float = 0.5
    """std (px) of Gaussian noise added to those keypoints"""
    beta_decay: float = 0.5
    resample_appearance: bool = True
    val_episodes: int = 30
    image_size: int = 64
    init_localizer: str | None = None
    """a localizer checkpoint (:mod:`agents.localizer`) whose trunk and heatmap head start
    the network's trunk and cube heatmap; None: random initialization"""
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("iterations", "episodes_per_iteration", "batch_size", "width", "hidden"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        for key in ("val_episodes", "shift", "head_steps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be an int >= 0, got {value!r}")
        for key in ("epochs", "lr"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
        for key in ("aux_weight", "head_noise"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")
        if not 0 <= self.beta_decay <= 1:
            raise ValueError(f"beta_decay must be in [0, 1], got {self.beta_decay!r}")
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % 4:
            raise ValueError(
                f"image_size must be a multiple of 4 px and >= 16 (the network halves it "
                f"twice), got {size!r}; 64 is the tested size"
            )


def check_env(env_id: str) -> tuple[str, ...]:
    """The keypoints of ``env_id``; an env without a DAgger setup is refused."""
    if env_id not in KEYPOINTS:
        raise ValueError(f"DAgger runs on {', '.join(KEYPOINTS)} (they have an expert and "
                         f"keypoints); got {env_id!r}")  # fmt: skip
    return KEYPOINTS[env_id]


# -------------------------------------------------------------------------- data


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
        return Frames(*(torch.cat([a, b]) for a, b in zip(self.parts(), other.parts(), strict=True)))

    def parts(self) -> tuple[torch.Tensor, ...]:
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


# ------------------------------------------------------------------------ training


def train_steps(policy: DaggerPolicy, data: Frames, opt: torch.optim.Optimizer, *, steps: int,
                config: DaggerConfig, gen: torch.Generator, bar: tqdm | None = None
                ) -> dict[str, float]:  # fmt: skip
    """``steps`` minibatch updates on uniformly drawn frames (cosine decay of the learning
    rate to a tenth within them); returns the mean action and keypoint losses."""
    model = policy.model
    model.train()
    size = float(data.images.shape[-1])
    tot_a = tot_k = 0.0
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = config.lr * (0.1 + 0.45 * (1 + math.cos(math.pi * step / max(steps, 1))))
        idx = torch.randint(0, len(data), (config.batch_size,), generator=gen)
        image, shift = random_shift(data.images[idx].float() / 255.0, config.shift, gen)
        target = data.keypoints[idx] + (shift * 2.0 / size)[:, None, :]
        pred, logits, _ = model(image, data.proprio[idx])
        loss_a = torch.nn.functional.mse_loss(pred, data.actions[idx])
        valid = data.valid[idx] & (target.abs() < 1.0).all(-1)
        loss_k = keypoint_loss(logits, target, valid)
        loss = loss_a + config.aux_weight * loss_k
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        tot_a += float(loss_a.detach())
        tot_k += float(loss_k.detach())
        if bar is not None:
            bar.update(config.batch_size)
    model.eval()
    return {"action_mse": tot_a / max(steps, 1), "keypoint_loss": tot_k / max(steps, 1)}


@torch.no_grad()
def predict_keypoints(model: KeypointNet, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """The keypoints (N, K, 2) the trunk finds in uint8 images (N, 3, H, W), eval mode."""
    model.eval()
    out = []
    for i in range(0, len(images), batch):
        logits = model.heatmaps(images[i : i + batch].float() / 255.0)
        n, k, h, w = logits.shape
        cells = local_soft_argmax(logits.reshape(n * k, h, w)).reshape(n, k, 2)
        out.append(cells / torch.tensor([w, h], dtype=cells.dtype) * 2.0 - 1.0)
    return torch.cat(out)


def train_head(policy: DaggerPolicy, data: Frames, kp: torch.Tensor, *, steps: int,
               config: DaggerConfig, gen: torch.Generator) -> float:  # fmt: skip
    """``steps`` updates of the action head alone on predicted keypoints ``kp`` (plus
    Gaussian noise of ``head_noise`` px); returns the mean action MSE."""
    head = policy.model.mlp
    opt = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=1e-4)
    proprio = data.proprio
    noise = config.head_noise * 2.0 / float(data.images.shape[-1])
    total = 0.0
    head.train()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))
        idx = torch.randint(0, len(data), (4 * config.batch_size,), generator=gen)
        x = kp[idx] + noise * torch.randn(kp[idx].shape, generator=gen)
        loss = torch.nn.functional.mse_loss(policy.model.head(x, proprio[idx]), data.actions[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
    head.eval()
    return total / max(steps, 1)


def init_from_localizer(model: KeypointNet, path: str, names: tuple[str, ...], size: int) -> None:
    """Copy a localizer's trunk and heatmap head (into the cube keypoint's channel)."""
    from agents.localizer import load_localizer

    loc = load_localizer(path)
    width, stride = model.dims[4], 1
    if (loc.config.width, loc.config.stem_stride, loc.image_size) != (width, stride, size):
        raise ValueError(
            f"{path!r} is a localizer of width {loc.config.width}, stem stride "
            f"{loc.config.stem_stride} on {loc.image_size} px images; the DAgger network has "
            f"width {width}, stem stride {stride} on {size} px: train a matching localizer"
        )
    state = {k: v for k, v in loc.model.state_dict().items() if not k.startswith("head.")}
    model.load_state_dict(state, strict=False)
    with torch.no_grad():
        c = names.index("cube")
        head = loc.model.state_dict()
        model.heads.weight[c] = head["head.weight"][0]
        model.heads.bias[c] = head["head.bias"][0]  # type: ignore[index]


@dataclass
class DaggerResult:
    """The selected policy and one row per iteration."""

    policy: DaggerPolicy
    log: list[dict[str, Any]] = field(default_factory=list)
    selected_iteration: int = 0
    seconds: float = 0.0


def run_dagger(env_id: str, preset: str | None, config: DaggerConfig, *, progress: bool = True,
               log: Callable[[dict[str, Any]], None] | None = None,
               checkpoint: str | Path | None = None) -> DaggerResult:  # fmt: skip
    """The DAgger loop (see the module docstring); deterministic for a given config.
    ``checkpoint``: after every iteration that is the best so far on validation, write the
    policy there (so an interrupted run leaves its best finished iteration)."""
    names = check_env(env_id)
    t0 = time.perf_counter()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    make: dict[str, Any] = {"obs_mode": OBS_MODE, "image_size": config.image_size,
                            "randomization": preset}  # fmt: skip
    env = gym.make(env_id, **make)
    val_env = gym.make(env_id, **make) if config.val_episodes else None
    state_names = list(env.unwrapped.task.state_names)  # type: ignore[attr-defined]
    proprio_indices = [state_names.index(n) for n in PROPRIO_NAMES]
    action_dim = int(env.action_space.shape[0])  # type: ignore[index]
    meta = PolicyMeta(kind="bc", algo="dagger", env_id=env_id, preset=preset, obs_mode=OBS_MODE,
                      image_size=config.image_size, extra={"config": asdict(config)})  # fmt: skip
    model = KeypointNet(config.image_size, len(PROPRIO_NAMES), action_dim, len(names),
                        config.width, config.hidden)  # fmt: skip
    if config.init_localizer is not None:
        init_from_localizer(model, config.init_localizer, names, config.image_size)
    env.reset(seed=config.seed)
    rest = env.unwrapped.privileged_state()  # type: ignore[attr-defined]
    planes = {"cube": float(rest["object_pos"][2]), "goal": float(rest["goal_pos"][2]),
              "ee": float("nan")}  # fmt: skip
    model.set_geometry(nominal_camera(env_id, config.image_size), [planes[k] for k in names])
    policy = DaggerPolicy(model.eval(), proprio_indices, names, meta)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    data: Frames | None = None
    result = DaggerResult(policy)
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    try:
        for it in range(config.iterations):
            beta = config.beta_decay**it
            bar = tqdm(desc=f"iter {it} collect (beta {beta:.2f})", unit="frame",
                       disable=not progress, leave=False)  # fmt: skip
            got = collect(env, env_id, None if it == 0 else policy, episodes=config.episodes_per_iteration,
                          beta=beta, seed=config.seed, start=it * config.episodes_per_iteration,
                          resample=config.resample_appearance, proprio_indices=proprio_indices,
                          bar=bar)  # fmt: skip
            bar.close()
            data = got.frames if data is None else data.extend(got.frames)
            if it == 0:  # normalization fixed by the expert's data
                model.set_normalization(data.proprio.mean(0), data.proprio.std(0).clamp_min(1e-3))
            steps = max(1, round(config.epochs * len(got.frames) / config.batch_size))
            bar = tqdm(total=steps * config.batch_size, desc=f"iter {it} train", unit="img",
                       unit_scale=True, disable=not progress, leave=False)  # fmt: skip
            losses = train_steps(policy, data, opt, steps=steps, config=config, gen=gen, bar=bar)
            bar.close()
            if config.head_steps:
                kp = predict_keypoints(model, data.images)
                losses["head_mse"] = train_head(policy, data, kp, steps=config.head_steps,
                                                config=config, gen=gen)  # fmt: skip
            row: dict[str, Any] = {
                "iteration": it, "beta": beta, "frames": len(data),
                "new_frames": len(got.frames), "rollout_success": float(np.mean(got.successes)),
                "mean_length": float(np.mean(got.lengths)), **losses,
            }  # fmt: skip
            if val_env is not None:
                val = collect(val_env, env_id, policy, episodes=config.val_episodes, beta=0.0,
                              seed=config.seed + VAL_SEED_OFFSET, start=0, resample=False,
                              proprio_indices=proprio_indices, record=False)  # fmt: skip
                row["val_success"] = float(np.mean(val.successes))
                row["val_mean_length"] = float(np.mean(val.lengths))
                if best is None or row["val_success"] >= best[0]:
                    state = {k: v.clone() for k, v in model.state_dict().items()}
                    best = (row["val_success"], it, state)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            result.log.append(row)
            if checkpoint is not None and (best is None or best[1] == it):
                extra = {**meta.extra, "log": result.log, "selected_iteration": it,
                         "train_seconds": row["seconds"], "keypoints": list(names),
                         "frames": len(data), "finished": False}  # fmt: skip
                policy.meta = PolicyMeta(**{**meta.to_dict(), "extra": extra})
                save_dagger(policy, checkpoint)
            if log is not None:
                log(row)
    finally:
        env.close()
        if val_env is not None:
            val_env.close()
    result.selected_iteration = config.iterations - 1
    if best is not None:
        model.load_state_dict(best[2])
        result.selected_iteration = best[1]
    model.eval()
    result.seconds = round(time.perf_counter() - t0, 1)
    extra = {**meta.extra, "log": result.log, "selected_iteration": result.selected_iteration,
             "train_seconds": result.seconds, "keypoints": list(names),
             "frames": len(data) if data is not None else 0, "finished": True}  # fmt: skip
    policy.meta = PolicyMeta(**{**meta.to_dict(), "extra": extra})
    return result


# -------------------------------------------------------------------------- checkpoint


def save_dagger(policy: DaggerPolicy, path: str | Path) -> Path:
    """Write a behaviour-cloning ``.pt`` checkpoint whose ``net`` is a keypoint network
    (:func:`agents.policies.bc.load_bc_policy` and ``rollout.py --policy CKPT`` read it)."""
    import json

    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"DAgger checkpoints end in .pt (so load_policy knows them), got {path}")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "net": NET_KIND,
        "meta": json.dumps(policy.meta.to_dict(), sort_keys=True),
        "dims": list(policy.model.dims),
        "keypoints": list(policy.keypoints),
        "proprio_indices": list(policy.proprio_indices),
        "state_dict": policy.model.state_dict(),
    }
    return save_checkpoint(path, payload)
