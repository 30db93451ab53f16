"""The DAgger policy network: a heatmap trunk finds keypoints (the cube, the end effector
and, for Push, the goal disc) in the RGB image; their image coordinates, their differences
and proprioception go through an MLP to the action.

The simulator knows where every keypoint projects, so training adds a heatmap loss on them
(privileged labels at training time only); at test time the network reads the image and
proprioception alone. The trunk is :class:`agents.perception.heatmap_net.HeatmapNet`'s (CoordConv,
stride-2 features, a dilated stride-4 context stage merged back) with one heatmap per
keypoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.heatmap_net import HeatmapTrunk
from agents.perception.localizer import heatmap_loss, local_soft_argmax
from agents.policies.contract import PolicyError, PolicyMeta

KEYPOINTS: dict[str, tuple[str, ...]] = {
    "domrand/Lift-v0": ("cube", "ee"),
    "domrand/Push-v0": ("cube", "goal", "ee"),
}
"""the keypoints the network finds, per env id (each is a privileged position projected)"""
STATE_KEYS = {"cube": "object_pos", "goal": "goal_pos", "ee": "ee_pos"}
"""the privileged-state entry whose projection labels each keypoint"""


class KeypointNet(HeatmapTrunk):
    """Image (N, 3, H, W) in [0, 1] and raw proprio (N, P) -> actions in [-1, 1].

    ``forward`` also returns the heatmap logits (N, K, H/s, W/s) and the keypoints (N, K, 2)
    in [-1, 1] image coordinates (x right, y down) that the action head read. The head also
    reads each keypoint back-projected through the calibrated camera onto its plane (the
    table-top rest height of the cube and goal; the end effector's proprioceptive height),
    as its horizontal offset from the end effector: a camera error shifts the cube's and the
    end effector's back-projections alike, so their difference stays close to the truth.
    """

    cam_kinv: torch.Tensor
    cam_r: torch.Tensor
    cam_origin: torch.Tensor
    plane_z: torch.Tensor
    proprio_mean: torch.Tensor
    proprio_std: torch.Tensor

    def __init__(self, image_size: int, proprio_dim: int, action_dim: int, keypoints: int,
                 width: int = 16, hidden: int = 256, stem_stride: int = 1) -> None:  # fmt: skip
        super().__init__(width, stem_stride)
        self.dims = [image_size, proprio_dim, action_dim, keypoints, width, hidden]
        if stem_stride != 1:  # a seventh entry only when it differs: older checkpoints load
            self.dims.append(stem_stride)
        w, k = width, keypoints
        self.heads = nn.Conv2d(2 * w, k, 1)
        pairs = k * (k - 1) // 2
        # fixed, not learned: the calibrated camera, each keypoint's plane height (NaN: the
        # end effector's own height from proprioception) and the proprio normalization
        self.register_buffer("cam_kinv", torch.eye(3))
        self.register_buffer("cam_r", torch.eye(3))
        self.register_buffer("cam_origin", torch.zeros(3))
        self.register_buffer("plane_z", torch.full((k,), float("nan")))
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))
        self.mlp = nn.Sequential(
            nn.Linear(4 * k + 2 * pairs + proprio_dim, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, action_dim), nn.Tanh(),
        )  # fmt: skip

    def trunk_parameters(self) -> list[nn.Parameter]:
        """The shared feature trunk's weights (what a localizer checkpoint can start)."""
        return [p for m in (self.stem, self.down, self.context, self.up) for p in m.parameters()]

    def heatmaps(self, image: torch.Tensor) -> torch.Tensor:
        """(N, K, H/s, W/s) keypoint logits (s: the trunk's stride, 2 or 4)."""
        return self.heads(self.features(image * 2.0 - 1.0))  # type: ignore[no-any-return]

    def set_geometry(self, camera: Mapping[str, Any], plane_z: Sequence[float]) -> None:
        """The calibrated camera (``K``, 4x4 world-to-camera ``extrinsics``, as
        :meth:`envs.camera.Camera.info` gives them) and each keypoint's plane height."""
        ext = torch.as_tensor(np.asarray(camera["extrinsics"], dtype=np.float64))
        r, t = ext[:3, :3], ext[:3, 3]
        self.cam_kinv.copy_(torch.linalg.inv(torch.as_tensor(np.asarray(camera["K"], dtype=np.float64))).float())
        self.cam_r.copy_(r.float())
        self.cam_origin.copy_((-r.T @ t).float())
        self.plane_z.copy_(torch.as_tensor(list(plane_z), dtype=torch.float32))

    def set_normalization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Proprioception statistics (of the expert's data)."""
        self.proprio_mean.copy_(mean)
        self.proprio_std.copy_(std)

    def world_offsets(self, kp: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """(N, K, 2): each keypoint back-projected onto its plane, minus the end effector's
        proprioceptive (x, y), in units of one full-speed step (5 cm), clipped to +-10."""
        size = float(self.dims[0])
        uv1 = torch.cat([(kp + 1.0) * 0.5 * size, torch.ones_like(kp[..., :1])], -1)
        rays = uv1 @ self.cam_kinv.T @ self.cam_r  # rows: R^T K^-1 (u, v, 1)
        z = torch.where(torch.isnan(self.plane_z), proprio[:, None, 2], self.plane_z)
        lam = (z - self.cam_origin[2]) / torch.where(rays[..., 2].abs() > 1e-6, rays[..., 2],
                                                     torch.full_like(rays[..., 2], 1e-6))  # fmt: skip
        xy = self.cam_origin[:2] + lam[..., None] * rays[..., :2]
        return ((xy - proprio[:, None, :2]) / 0.05).clamp(-10.0, 10.0)

    def head(self, kp: torch.Tensor, proprio: torch.Tensor) -> torch.Tensor:
        """Actions from keypoints (N, K, 2) in [-1, 1] and raw proprio (N, P)."""
        n, k = kp.shape[:2]
        i, j = torch.triu_indices(k, k, 1)
        norm = (proprio - self.proprio_mean) / self.proprio_std
        feats = [kp.reshape(n, -1), (kp[:, i] - kp[:, j]).reshape(n, -1),
                 self.world_offsets(kp, proprio).reshape(n, -1), norm]  # fmt: skip
        return self.mlp(torch.cat(feats, 1))  # type: ignore[no-any-return]

    def forward(self, image: torch.Tensor, proprio: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        logits = self.heatmaps(image)
        n, k, h, w = logits.shape
        cells = local_soft_argmax(logits.reshape(n * k, h, w)).reshape(n, k, 2)
        kp = cells / torch.tensor([w, h], dtype=cells.dtype) * 2.0 - 1.0
        return self.head(kp, proprio), logits, kp


def keypoint_loss(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
                  sigma: float = 1.0, pixel_weight: float = 0.5) -> torch.Tensor:  # fmt: skip
    """:func:`agents.perception.localizer.heatmap_loss` over every keypoint whose label lies in the
    image (``valid`` (N, K)); ``target`` (N, K, 2) in [-1, 1] image coordinates."""
    n, k, h, w = logits.shape
    cells = (target + 1.0) * 0.5 * torch.tensor([w, h], dtype=target.dtype)
    mask = valid.reshape(-1)
    if not bool(mask.any()):
        return logits.sum() * 0.0
    return heatmap_loss(logits.reshape(n * k, h, w)[mask], cells.reshape(n * k, 2)[mask],
                        sigma, pixel_weight)  # fmt: skip


def random_shift(images: torch.Tensor, pad: int, gen: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Shift each image by up to ``pad`` px (replicate padding, as in DrQ); returns the
    images and the shifts (N, 2) in pixels (x, y) that keypoint labels must follow."""
    n, c, h, w = images.shape
    if pad == 0:
        return images, torch.zeros(n, 2)
    padded = F.pad(images, (pad, pad, pad, pad), mode="replicate")
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    rows = (oy[:, None] + torch.arange(h)[None])[:, None, :, None].expand(n, c, h, w + 2 * pad)
    cols = (ox[:, None] + torch.arange(w)[None])[:, None, None, :].expand(n, c, h, w)
    out = padded.gather(2, rows).gather(3, cols)
    return out, torch.stack([pad - ox, pad - oy], 1).float()


@dataclass
class DaggerPolicy:
    """A trained :class:`KeypointNet` behind :class:`agents.policies.contract.LoadedPolicy`: it
    reads the ``rgb`` image and the proprioceptive entries of ``state`` only."""

    model: KeypointNet
    proprio_indices: list[int]
    keypoints: tuple[str, ...]
    meta: PolicyMeta
    history: dict[str, Any] = field(default_factory=dict)

    def _inputs(self, obs: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(obs, Mapping) or "rgb" not in obs or "state" not in obs:
            raise PolicyError(
                "a DAgger policy needs 'state+rgb' observations (a dict with 'rgb' and "
                "'state'); make the env with obs_mode='state+rgb'"
            )
        rgb = np.asarray(obs["rgb"])
        size = self.meta.image_size
        if rgb.ndim != 4 or rgb.shape[1:] != (size, size, 3):
            got = "x".join(str(s) for s in rgb.shape[-3:-1]) if rgb.ndim >= 3 else str(rgb.shape)
            raise PolicyError(
                f"the DAgger policy was trained on {size} px images; the observation is "
                f"{got} px: run the env with image_size={size}"
            )
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(0, 3, 1, 2).float() / 255.0
        state = np.asarray(obs["state"], dtype=np.float32)
        return image, torch.from_numpy(state[:, self.proprio_indices])

    @torch.no_grad()
    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Deterministic actions for a batch of ``state+rgb`` observations (or one)."""
        if isinstance(obs, Mapping) and "rgb" in obs and np.asarray(obs["rgb"]).ndim == 3:
            return self.act({k: np.asarray(v)[None] for k, v in obs.items()})[0]
        self.model.eval()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a batch of one: more threads only contend (6x slower on 2 busy cores)
        try:
            return self.model(*self._inputs(obs))[0].numpy()  # type: ignore[no-any-return]
        finally:
            torch.set_num_threads(threads)

    @torch.no_grad()
    def keypoints_px(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The keypoints (N, K, 2) the policy sees, in image pixels (u, v)."""
        self.model.eval()
        kp = self.model(*self._inputs(obs))[2]
        return ((kp + 1.0) * 0.5 * self.meta.image_size).numpy()  # type: ignore[no-any-return]


def build_model(dims: Sequence[int]) -> KeypointNet:
    """A :class:`KeypointNet` from its recorded ``dims``."""
    if len(dims) not in (6, 7):
        raise ValueError(f"dims must hold 6 or 7 entries, got {len(dims)}")
    size, proprio_dim, action_dim, k, width, hidden, *stride = (int(v) for v in dims)
    return KeypointNet(size, proprio_dim, action_dim, k, width, hidden, *stride)


def policy_from_payload(payload: Mapping[str, Any], meta: PolicyMeta) -> DaggerPolicy:
    """Rebuild a :class:`DaggerPolicy` from a checkpoint payload (``net: keypoint``);
    ``KeyError`` / ``TypeError`` / ``ValueError`` / ``RuntimeError`` on damaged content."""
    model = build_model(payload["dims"])
    model.load_state_dict(payload["state_dict"])
    keypoints = tuple(str(k) for k in payload["keypoints"])
    if keypoints != KEYPOINTS.get(meta.env_id, keypoints) or len(keypoints) != model.dims[3]:
        raise ValueError(f"keypoints {list(keypoints)} do not match {meta.env_id}'s "
                         f"{list(KEYPOINTS.get(meta.env_id, ()))}")  # fmt: skip
    if model.dims[0] != meta.image_size:
        raise ValueError(f"network built for {model.dims[0]} px, meta says {meta.image_size} px")
    return DaggerPolicy(model.eval(), [int(i) for i in payload["proprio_indices"]], keypoints,
                        meta)  # fmt: skip
