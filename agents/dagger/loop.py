"""DAgger: distil the privileged scripted expert into a visuomotor policy (RGB image plus
proprioception, never the object state) in randomized simulation.

Iteration 0 rolls out the expert; iteration ``i`` rolls out a mixture that lets the expert
act at each step with probability ``beta_i = beta_decay ** i`` and the current learner
otherwise. One expert instance runs alongside every episode, called on the privileged state
at every step whatever acts, so its phase machine follows the visited trajectory; its action
labels the frame. The simulator also labels where the cube, the end effector and (Push) the
goal project in the image: an auxiliary heatmap loss on those keypoints
(:mod:`agents.dagger.net`). All data is aggregated; each iteration continues training on it
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

from agents.checkpoints import save_checkpoint
from agents.dagger.data import Frames, collect
from agents.dagger.net import KEYPOINTS, DaggerPolicy, KeypointNet, keypoint_loss, random_shift
from agents.perception.localizer import local_soft_argmax, nominal_camera
from agents.policies.bc import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, OBS_MODE, PROPRIO_NAMES
from agents.policies.contract import PolicyMeta
from agents.training import BestState, FitConfig, LossOutput, cosine_decay, fit, seeded

NET_KIND = "keypoint"
"""``net`` entry of a behaviour-cloning checkpoint that holds a DAgger :class:`KeypointNet`"""
VAL_SEED_OFFSET = 1_000_003
"""validation episodes use run seed + this: never a training episode's seed"""


@dataclass(frozen=True)
class DaggerConfig:
    """How to train (every setting chosen on randomized validation rollouts)."""

    iterations: int = 6
    """DAgger iterations; iteration 0 is the expert's"""
    episodes_per_iteration: int = 150
    epochs: float = 4.0
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
    beta_decay: float = 0.8
    """the expert acts with probability beta_decay ** iteration per step; 0.5 made the
    learner's validation collapse after the third iteration, 0.8 did not (README, footnote 8)"""
    resample_appearance: bool = True
    val_episodes: int = 50
    image_size: int = 64
    stem_stride: int = 1
    """2: a strided first layer, so 128 px images cost the trunk what 64 px ones do (and a
    128 px localizer with ``--stem-stride 2`` can start it)"""
    init_localizer: str | None = None
    """a localizer checkpoint (:mod:`agents.perception.localizer`) whose trunk and heatmap head start
    the network's trunk and cube heatmap; None: random initialization"""
    freeze_trunk: int = 0
    """iterations (from the first) whose updates leave the trunk's weights as they are: only the
    keypoint heads and the action MLP learn while the aggregated data is still small"""
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("iterations", "episodes_per_iteration", "batch_size", "width", "hidden"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        for key in ("val_episodes", "shift", "head_steps", "freeze_trunk"):
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
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        if not 0 <= self.beta_decay <= 1:
            raise ValueError(f"beta_decay must be in [0, 1], got {self.beta_decay!r}")
        size, step = self.image_size, 4 * self.stem_stride
        if isinstance(size, bool) or not isinstance(size, int) or size < 16 or size % step:
            raise ValueError(
                f"image_size must be a multiple of {step} px and >= 16 (the network halves it "
                f"{step.bit_length() - 1} times), got {size!r}; 64 (stem stride 1) and 128 "
                f"(stem stride 2) are the tested sizes"
            )


def check_env(env_id: str) -> tuple[str, ...]:
    """The keypoints of ``env_id``; an env without a DAgger setup is refused."""
    if env_id not in KEYPOINTS:
        raise ValueError(f"DAgger runs on {', '.join(KEYPOINTS)} (they have an expert and "
                         f"keypoints); got {env_id!r}")  # fmt: skip
    return KEYPOINTS[env_id]




# ------------------------------------------------------------------------ training


def train_steps(policy: DaggerPolicy, data: Frames, opt: torch.optim.Optimizer, *, steps: int,
                config: DaggerConfig, gen: torch.Generator, progress: bool = False,
                desc: str = "train") -> dict[str, float]:  # fmt: skip
    """``steps`` minibatch updates on uniformly drawn frames (cosine decay of the learning
    rate to a tenth within them): action MSE plus ``aux_weight`` times the keypoint heatmap
    loss, on randomly shifted images; returns the mean action and keypoint losses."""
    model = policy.model
    size = float(data.images.shape[-1])

    def loss_fn(idx: torch.Tensor, g: torch.Generator) -> LossOutput:
        image, shift = random_shift(data.images[idx].float() / 255.0, config.shift, g)
        target = data.keypoints[idx] + (shift * 2.0 / size)[:, None, :]
        pred, logits, _ = model(image, data.proprio[idx])
        loss_a = torch.nn.functional.mse_loss(pred, data.actions[idx])
        valid = data.valid[idx] & (target.abs() < 1.0).all(-1)
        loss_k = keypoint_loss(logits, target, valid)
        return loss_a + config.aux_weight * loss_k, {"action_mse": loss_a, "keypoint_loss": loss_k}

    row = fit(model, loss_fn, len(data),
              FitConfig(batch_size=config.batch_size, steps=steps, desc=desc, leave=False),
              gen=gen, optimizer=opt, schedule=cosine_decay(0.1), progress=progress).history[-1]  # fmt: skip
    return {"action_mse": row["action_mse"], "keypoint_loss": row["keypoint_loss"]}


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
    """``steps`` updates of the action head alone (its own AdamW, cosine decay to 0) on
    predicted keypoints ``kp`` (plus Gaussian noise of ``head_noise`` px) in batches of
    4 x ``batch_size``; returns the mean action MSE."""
    net = policy.model
    noise = config.head_noise * 2.0 / float(data.images.shape[-1])

    def loss_fn(idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        x = kp[idx] + noise * torch.randn(kp[idx].shape, generator=g)
        return torch.nn.functional.mse_loss(net.head(x, data.proprio[idx]), data.actions[idx])

    done = fit(net.mlp, loss_fn, len(data),
               FitConfig(batch_size=4 * config.batch_size, steps=steps, lr=config.lr),
               gen=gen, schedule=cosine_decay(0.0), progress=False)  # fmt: skip
    return done.history[-1]["loss"]


def init_from_localizer(model: KeypointNet, path: str, names: tuple[str, ...], size: int) -> None:
    """Copy a localizer's trunk and heatmap head (into the cube keypoint's channel)."""
    from agents.perception.localizer import load_localizer

    loc = load_localizer(path)
    width, stride = model.dims[4], model.stride // 2
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
    with seeded(config.seed):
        model = KeypointNet(config.image_size, len(PROPRIO_NAMES), action_dim, len(names),
                            config.width, config.hidden, config.stem_stride)  # fmt: skip
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
    best = BestState(mode="max", ties="last")  # on validation success
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
            for p in model.trunk_parameters():
                p.requires_grad_(it >= config.freeze_trunk)
            losses = train_steps(policy, data, opt, steps=steps, config=config, gen=gen,
                                 progress=progress, desc=f"iter {it} train")  # fmt: skip
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
                best.offer(row["val_success"], model, it)
            row["seconds"] = round(time.perf_counter() - t0, 1)
            result.log.append(row)
            if checkpoint is not None and best.tag in (None, it):
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
    selected = best.restore(model)
    result.selected_iteration = config.iterations - 1 if selected is None else selected
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
