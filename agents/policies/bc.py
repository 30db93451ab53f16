"""Image behaviour cloning: record scripted-expert demonstrations as a Minari dataset
(the Farama standard for offline data, arrow backend) and train a small CNN policy on RGB
plus proprioception (end-effector position and velocity, finger width: never the object
state, which a real camera-driven robot does not observe).

Checkpoints are ``.pt`` files of tensors and plain data (``weights_only=True``) holding a
:class:`agents.policies.contract.PolicyMeta`, so :func:`agents.policies.contract.load_policy` and
``scripts/rollout.py --policy CKPT`` run them.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from agents.checkpoints import read_checkpoint, save_checkpoint
from agents.policies.contract import PolicyError, PolicyMeta
from agents.rollout import EpisodeResult
from envs.seeding import episode_seed

CHECKPOINT_FORMAT = "domrand-bc-policy"
CHECKPOINT_VERSION = 1
PROPRIO_NAMES = ("ee_x", "ee_y", "ee_z", "ee_vx", "ee_vy", "ee_vz", "finger_width")
OBS_MODE = "state+rgb"
EPISODE_KEY = "domrand"
"""key of the per-episode Minari metadata that :func:`record_demonstrations` adds"""


# ------------------------------------------------------------------------ record


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
    from agents.policies.experts import EXPERTS, make_expert
    from agents.rollout import check_image_size

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


# -------------------------------------------------------------------------- data


@dataclass
class Demonstrations:
    """Every step of a Minari dataset in memory: uint8 images (N, 3, H, W), proprioception
    (N, P) and actions (N, A)."""

    images: torch.Tensor
    proprio: torch.Tensor
    actions: torch.Tensor
    episodes: int
    env_id: str
    proprio_indices: list[int]
    preset: str | None = None


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


# ------------------------------------------------------------------------- model


def check_bc_image_size(size: int) -> None:
    """:class:`BCNet` halves the image four times: its side must be a multiple of 16."""
    if size < 16 or size % 16:
        raise ValueError(
            f"behaviour cloning needs images whose side is a multiple of 16 px, got {size}; "
            f"record them with --image-size 64 (or 32, 48, 128)"
        )


class BCNet(nn.Module):
    """CoordConv CNN over the image, an MLP over proprioception, a joint head; tanh actions."""

    coords: torch.Tensor

    def __init__(self, image_size: int, proprio_dim: int, action_dim: int, width: int = 32) -> None:
        super().__init__()
        self.dims = [image_size, proprio_dim, action_dim, width]
        g = torch.linspace(-1.0, 1.0, image_size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)
        chans = [5, width, 2 * width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for i in range(len(chans) - 1):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, stride=2, padding=1),
                       nn.GroupNorm(8, chans[i + 1]), nn.ReLU(inplace=True)]  # fmt: skip
        self.features = nn.Sequential(*layers, nn.Flatten())
        feat = chans[-1] * (image_size // 16) ** 2
        self.proprio = nn.Sequential(nn.Linear(proprio_dim, 64), nn.ReLU(inplace=True))
        self.head = nn.Sequential(
            nn.Linear(feat + 64, 256), nn.ReLU(inplace=True), nn.Linear(256, action_dim), nn.Tanh()
        )

    def forward(self, image: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Actions in [-1, 1] from images in [0, 1] (B, 3, H, W) and normalized proprio."""
        x = torch.cat([image * 2.0 - 1.0, self.coords.expand(image.shape[0], -1, -1, -1)], 1)
        return self.head(torch.cat([self.features(x), self.proprio(proprio)], 1))


@dataclass(frozen=True)
class BCConfig:
    """How to train."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    width: int = 32
    shift: int = 4  # random-shift augmentation (pixels), as in DrQ
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "width"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.shift < 0:
            raise ValueError(f"shift must be >= 0, got {self.shift}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def _random_shift(x: torch.Tensor, pad: int, gen: torch.Generator) -> torch.Tensor:
    if pad == 0:
        return x
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (dy[:, None] + torch.arange(h)[None])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pad)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, None, :].expand(n, x.shape[1], h, w)
    return padded.gather(2, rows).gather(3, cols)


@dataclass
class BCPolicy:
    """A trained BC network behind :class:`agents.policies.contract.LoadedPolicy`."""

    model: BCNet
    proprio_mean: torch.Tensor
    proprio_std: torch.Tensor
    proprio_indices: list[int]
    meta: PolicyMeta
    history: dict[str, list[float]] = field(default_factory=dict)

    @torch.no_grad()
    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Deterministic actions for a batch of ``state+rgb`` observations."""
        if not isinstance(obs, Mapping) or "rgb" not in obs or "state" not in obs:
            raise PolicyError(
                f"a BC policy needs {OBS_MODE!r} observations (a dict with 'rgb' and 'state'); "
                f"make the env with obs_mode={OBS_MODE!r}"
            )
        rgb = np.asarray(obs["rgb"])
        if rgb.ndim == 3:  # one observation, not a batch
            return self.act({k: np.asarray(v)[None] for k, v in obs.items()})[0]
        image = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().div_(255.0)
        p = torch.from_numpy(np.asarray(obs["state"], dtype=np.float32)[:, self.proprio_indices])
        self.model.eval()
        return self.model(image, (p - self.proprio_mean) / self.proprio_std).numpy()


def train_bc(
    demos: Demonstrations,
    config: BCConfig,
    meta: PolicyMeta,
    *,
    progress: bool = True,
) -> BCPolicy:
    """Fit :class:`BCNet` to the expert's actions (MSE) with random-shift augmentation."""
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    size = int(demos.images.shape[-1])
    model = BCNet(size, demos.proprio.shape[1], demos.actions.shape[1], config.width)
    mean, std = demos.proprio.mean(0), demos.proprio.std(0).clamp_min(1e-3)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    n = demos.images.shape[0]
    per_epoch = max(1, (n + config.batch_size - 1) // config.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, config.epochs * per_epoch)
    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(total=config.epochs * n, unit="img", unit_scale=True, disable=not progress,
               desc="train bc")  # fmt: skip
    try:
        for _ in range(config.epochs):
            model.train()
            order = torch.randperm(n, generator=gen)
            total = 0.0
            for b in range(per_epoch):
                idx = order[b * config.batch_size : (b + 1) * config.batch_size]
                image = _random_shift(demos.images[idx].float().div_(255.0), config.shift, gen)
                pred = model(image, (demos.proprio[idx] - mean) / std)
                loss = nn.functional.mse_loss(pred, demos.actions[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item() * len(idx)
                bar.update(len(idx))
            losses.append(total / n)
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    finally:
        bar.close()
    model.eval()
    extra = {**meta.extra, "train_seconds": round(time.perf_counter() - t0, 1),
             "config": asdict(config), "steps": n, "episodes": demos.episodes}  # fmt: skip
    meta = PolicyMeta(**{**meta.to_dict(), "extra": extra})
    return BCPolicy(model, mean, std, demos.proprio_indices, meta, {"loss": losses})


# -------------------------------------------------------------------- checkpoint


def save_bc(policy: BCPolicy, path: str | Path) -> Path:
    """Write a ``.pt`` checkpoint (tensors and plain data only)."""
    path = Path(path)
    if path.suffix != ".pt":
        raise ValueError(f"BC checkpoints end in .pt (so load_policy knows them), got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    m = policy.model
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "meta": json.dumps(policy.meta.to_dict(), sort_keys=True),
        "dims": list(m.dims),
        "proprio_mean": policy.proprio_mean.clone(),
        "proprio_std": policy.proprio_std.clone(),
        "proprio_indices": list(policy.proprio_indices),
        "state_dict": m.state_dict(),
        "loss": list(policy.history.get("loss", [])),
    }
    return save_checkpoint(path, payload)


def load_bc_policy(path: str | Path) -> Any:
    """Read a checkpoint written by :func:`save_bc` (``torch.load(weights_only=True)``)."""
    path = Path(path)
    payload = read_checkpoint(
        path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="behaviour-cloning",
        train_hint="scripts/train_bc.py --dataset NAME --out CKPT", error=PolicyError,
        missing=PolicyError,
    )  # fmt: skip
    try:
        if payload.get("net", "bcnet") != "bcnet":  # DAgger's keypoint network
            return _load_net(payload)
        size, proprio_dim, action_dim, width = (int(v) for v in payload["dims"])
        model = BCNet(size, proprio_dim, action_dim, width)
        model.load_state_dict(payload["state_dict"])
        meta = PolicyMeta.from_dict(json.loads(payload["meta"]))
        policy = BCPolicy(model.eval(), torch.as_tensor(payload["proprio_mean"]),
                          torch.as_tensor(payload["proprio_std"]),
                          [int(i) for i in payload["proprio_indices"]], meta,
                          {"loss": [float(v) for v in payload.get("loss", [])]})  # fmt: skip
    except PolicyError as exc:
        raise PolicyError(f"{str(path)!r}: invalid policy meta: {exc}") from None
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        what = f"lacks {exc}" if isinstance(exc, KeyError) else " ".join(str(exc).split())[:300]
        raise PolicyError(
            f"{str(path)!r} is a damaged behaviour-cloning checkpoint ({type(exc).__name__}: "
            f"{what}); train it again with {_TRAIN_SCRIPTS.get(str(payload.get('net')), 'scripts/train_bc.py')}"
        ) from None
    return policy


_TRAIN_SCRIPTS = {"keypoint": "scripts/train_dagger.py"}


def _load_net(payload: dict[str, Any]) -> Any:
    """A checkpoint whose ``net`` is not the plain :class:`BCNet` (``keypoint``: DAgger)."""
    from agents.dagger_net import policy_from_payload

    if payload["net"] != "keypoint":
        raise ValueError(f"unknown network {payload['net']!r}; this code reads bcnet, keypoint")
    return policy_from_payload(payload, PolicyMeta.from_dict(json.loads(payload["meta"])))
