"""Image behaviour cloning: a small CNN policy on RGB plus proprioception (end-effector
position and velocity, finger width: never the object state, which a real camera-driven
robot does not observe), trained on scripted-expert :class:`Demonstrations`
(:mod:`agents.demos` records and loads them).

Checkpoints are ``.pt`` files of tensors and plain data (``weights_only=True``) holding a
:class:`agents.policies.contract.PolicyMeta`, so :func:`agents.policies.loading.load_policy`
and ``scripts/rollout.py --policy CKPT`` run them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.checkpoints import read_checkpoint, save_checkpoint
from agents.policies.contract import PolicyError, PolicyMeta
from agents.training import FitConfig, cosine_annealing, fit, seeded

CHECKPOINT_FORMAT = "domrand-bc-policy"
CHECKPOINT_VERSION = 1
PROPRIO_NAMES = ("ee_x", "ee_y", "ee_z", "ee_vx", "ee_vy", "ee_vz", "finger_width")
OBS_MODE = "state+rgb"


# -------------------------------------------------------------------------- data


@dataclass
class Demonstrations:
    """What behaviour cloning trains on: every demonstration step in memory, uint8 images
    (N, 3, H, W), proprioception (N, P) and actions (N, A)
    (:func:`agents.demos.load_demonstrations` reads them from a Minari dataset)."""

    images: torch.Tensor
    proprio: torch.Tensor
    actions: torch.Tensor
    episodes: int
    env_id: str
    proprio_indices: list[int]
    preset: str | None = None


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
    """Fit :class:`BCNet` to the expert's actions (MSE) with random-shift augmentation,
    AdamW and cosine annealing, through :func:`agents.training.fit`.

    ``config.seed`` fixes the weights: initialization runs under :func:`agents.training.seeded`
    (torch's global generator restored afterwards), batches and shifts draw from their own."""
    size = int(demos.images.shape[-1])
    with seeded(config.seed):
        model = BCNet(size, demos.proprio.shape[1], demos.actions.shape[1], config.width)
    mean, std = demos.proprio.mean(0), demos.proprio.std(0).clamp_min(1e-3)

    def loss_fn(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        image = _random_shift(demos.images[idx].float().div_(255.0), config.shift, gen)
        pred = model(image, (demos.proprio[idx] - mean) / std)
        return nn.functional.mse_loss(pred, demos.actions[idx])

    n = int(demos.images.shape[0])
    done = fit(model, loss_fn, n,
               FitConfig(batch_size=config.batch_size, epochs=config.epochs, lr=config.lr,
                         desc="train bc"),
               gen=torch.Generator().manual_seed(config.seed), schedule=cosine_annealing(),
               progress=progress)  # fmt: skip
    losses = [row["loss"] for row in done.history]
    extra = {**meta.extra, "train_seconds": round(done.seconds, 1),
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
    from agents.dagger.net import policy_from_payload

    if payload["net"] != "keypoint":
        raise ValueError(f"unknown network {payload['net']!r}; this code reads bcnet, keypoint")
    return policy_from_payload(payload, PolicyMeta.from_dict(json.loads(payload["meta"])))
