"""Object localizer: a heatmap CNN finds where the object's centre projects in the image,
and the known (calibrated) camera turns that pixel into a 3D position on the table plane.

Unlike direct regression (:mod:`agents.perception.pose_regressor`), the network only answers "where
in the image"; the geometry the simulator and a real calibration give for free does the
rest. Checkpoints are tensors and JSON (``torch.load(..., weights_only=True)``) and record
the env, image size, object, the nominal camera and the plane height they assume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F

from agents.checkpoints import load_model_checkpoint, save_model_checkpoint
from agents.perception.camera_geometry import back_project, project
from agents.perception.heatmap_net import HeatmapNet, check_merge
from agents.perception.pose_data import PoseData, load_pose_data
from agents.training import check_precision

CHECKPOINT_FORMAT = "domrand-localizer"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class LocalizerConfig:
    """Training settings (chosen on randomized validation data only)."""

    epochs: int = 20
    batch_size: int = 64
    lr: float = 3e-3  # peak of the one-cycle schedule
    width: int = 16  # channels of the first stage; later stages use 2x and 4x
    sigma: float = 1.0  # std of the target heatmap's Gaussian, in heatmap cells
    pixel_weight: float = 0.5  # weight of the soft-argmax L1 term next to the heatmap loss
    stem_stride: int = 1  # 2: a strided first layer, so 128 px costs about what 64 px does
    mask_weight: float = 0.0  # > 0: an auxiliary head segments the object (BCE, this weight)
    color_jitter: float = 0.0  # photometric augmentation strength (agents.perception.photometric)
    mirror: bool = False  # mirror half of each batch left-right (labels and masks follow)
    precision: str = "fp32"  # "bf16": the training forward pass in bfloat16 (agents.training)
    seed: int = 0
    object_name: str = "cube"
    merge: str = "concat"  # how the context joins the stride-2 features (heatmap_net.MERGES)
    low_res_epochs: int = 0  # the first this many of ``epochs`` train on half-size images

    def __post_init__(self) -> None:
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride!r}")
        for key in ("epochs", "batch_size", "width"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        low = self.low_res_epochs
        if isinstance(low, bool) or not isinstance(low, int) or not 0 <= low < self.epochs:
            raise ValueError(f"low_res_epochs must be an int in [0, epochs) = [0, {self.epochs}) "
                             f"(the last epoch trains at full size), got {low!r}")  # fmt: skip
        for key in ("lr", "sigma"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
        for key in ("pixel_weight", "mask_weight"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value >= 0):
                raise ValueError(f"{key} must be finite and >= 0, got {value!r}")
        if not (isinstance(self.color_jitter, (int, float)) and 0 <= self.color_jitter < 1):
            raise ValueError(f"color_jitter must lie in [0, 1), got {self.color_jitter!r}")
        if not isinstance(self.mirror, bool):
            raise ValueError(f"mirror must be True or False, got {self.mirror!r}")
        check_precision(self.precision)
        check_merge(self.merge)


def _centres(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float32) + 0.5


def log_probs(logits: torch.Tensor) -> torch.Tensor:
    """Heatmaps (N, h, w) -> log-probabilities under each heatmap's softmax (same shape)."""
    return torch.log_softmax(logits.flatten(-2), dim=-1).view_as(logits)


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Expected (x, y) position, in heatmap cells, under the softmax of each heatmap."""
    n, h, w = logits.shape
    p = torch.softmax(logits.reshape(n, -1), 1).reshape(n, h, w)
    return torch.stack([(p.sum(1) * _centres(w)).sum(1), (p.sum(2) * _centres(h)).sum(1)], 1)


def local_soft_argmax(logits: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """Soft-argmax within a (2r+1)^2 window around each heatmap's maximum (cells): sub-cell
    precision without being pulled toward a second, weaker peak elsewhere."""
    n, _, w = logits.shape
    idx = logits.reshape(n, -1).argmax(1)
    return window_soft_argmax(logits, idx // w, idx % w, radius)


def window_soft_argmax(logits: torch.Tensor, cy: torch.Tensor, cx: torch.Tensor,
                       radius: int = 2) -> torch.Tensor:  # fmt: skip
    """Soft-argmax of each heatmap (N, H, W) within a (2r+1)^2 window around the cell
    (``cy``, ``cx``), one per heatmap: (N, 2) (x, y) in cells."""
    n, h, w = logits.shape
    off = torch.arange(-radius, radius + 1)
    k = len(off)
    ys = (cy[:, None, None] + off[None, :, None]).expand(n, k, k)
    xs = (cx[:, None, None] + off[None, None, :]).expand(n, k, k)
    valid = (ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)
    rows = torch.arange(n)[:, None, None].expand(n, k, k)
    vals = logits[rows, ys.clamp(0, h - 1), xs.clamp(0, w - 1)].masked_fill(~valid, -torch.inf)
    p = torch.softmax(vals.reshape(n, -1), 1).reshape(n, k, k)
    return torch.stack([(p * (xs + 0.5)).sum((1, 2)), (p * (ys + 0.5)).sum((1, 2))], 1)


def heatmap_peaks(logits: torch.Tensor, k: int, radius: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` strongest local maxima of one heatmap (H, W): (k, 2) sub-cell (x, y)
    positions in cells and (k,) log-probabilities under the heatmap's softmax, best first
    (fewer when the heatmap has fewer maxima). Maxima closer than ``radius`` cells merge."""
    cells, scores = batch_heatmap_peaks(logits[None], k, radius)
    found = torch.isfinite(scores[0])
    return cells[0, found], scores[0, found]


def batch_heatmap_peaks(logits: torch.Tensor, k: int, radius: int = 2
                        ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """:func:`heatmap_peaks` of each heatmap (N, H, W) at once: (N, k', 2) cells and (N, k')
    log-probabilities with k' = min(k, H x W), ``-inf`` where a heatmap has fewer maxima (its
    cells there are meaningless). Equal maxima rank in row-major order."""
    n, h, w = logits.shape
    log_p = torch.log_softmax(logits.reshape(n, -1), 1).reshape(n, h, w)
    pooled = F.max_pool2d(log_p[:, None], 2 * radius + 1, 1, radius)[:, 0]
    maxima = torch.where(log_p >= pooled, log_p, -torch.inf).reshape(n, -1)
    scores, flat = torch.sort(maxima, dim=1, descending=True, stable=True)
    scores, flat = scores[:, :k], flat[:, :k]
    rows = torch.arange(n).repeat_interleave(scores.shape[1])
    cells = window_soft_argmax(log_p[rows], (flat // w).reshape(-1), (flat % w).reshape(-1), radius)
    return cells.reshape(n, -1, 2), scores


def exclude_cells(logits: torch.Tensor, exclude: np.ndarray | None, radius: float,
                  stride: int) -> torch.Tensor:  # fmt: skip
    """Heatmaps (N, h, w) with every cell whose centre lies within ``radius`` px of one of
    the ``exclude`` (K, 2) pixels pushed to -1e4 (places already found wrong)."""
    if exclude is None or not len(exclude):
        return logits
    h, w = logits.shape[-2:]
    cy, cx = (torch.arange(h) + 0.5) * stride, (torch.arange(w) + 0.5) * stride
    for u, v in np.asarray(exclude, dtype=np.float64).reshape(-1, 2):
        near = (cx[None, :] - u) ** 2 + (cy[:, None] - v) ** 2 <= radius**2
        logits = logits.masked_fill(near, -1e4)
    return logits


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor, sigma: float,
                 pixel_weight: float) -> torch.Tensor:  # fmt: skip
    """Cross-entropy against a Gaussian at ``target`` (cells) plus L1 on the soft-argmax."""
    n, h, w = logits.shape
    dx = _centres(w)[None, None, :] - target[:, 0, None, None]
    dy = _centres(h)[None, :, None] - target[:, 1, None, None]
    g = torch.exp(-(dx**2 + dy**2) / (2 * sigma**2))
    g = g / g.sum((1, 2), keepdim=True).clamp_min(1e-12)
    log_p = torch.log_softmax(logits.reshape(n, -1), 1).reshape(n, h, w)
    ce = -(g * log_p).sum((1, 2)).mean()
    l1 = (soft_argmax(logits) - target).abs().sum(1).mean()
    return ce + pixel_weight * l1


# images per forward pass at inference: at 128 px a batch of 32 keeps the activations in the
# CPU's cache (2.3x the images/s of 256 on a 2-core EPYC); outputs are equal bit for bit
INFERENCE_BATCH = 32


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [-1, 1], what the network reads."""
    return images.float().div(127.5).sub(1.0)


@dataclass
class Localizer:
    """A trained network and what it assumes: image size, nominal camera, plane height."""

    model: HeatmapNet
    config: LocalizerConfig
    meta: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def image_size(self) -> int:
        """Side of the square input images (px)."""
        return int(self.meta["image_size"])

    @torch.no_grad()
    def pixels(self, images: torch.Tensor, exclude: np.ndarray | None = None,
               radius: float = 4.0) -> np.ndarray:  # fmt: skip
        """Projected object centres (N, 2), image pixels (u, v), from uint8 (N, 3, H, W).
        ``exclude`` (K, 2) pixels rule out every heatmap cell within ``radius`` px of them
        in every image (places already found wrong), so the next-best peak wins."""
        self.model.eval()
        s = self.model.stride
        out = []
        for i in range(0, len(images), INFERENCE_BATCH):
            x = to_input(images[i : i + INFERENCE_BATCH])
            logits = exclude_cells(self.model(x), exclude, radius, s)
            out.append(local_soft_argmax(logits))
        return (torch.cat(out) * s).numpy().astype(np.float64)

    @torch.no_grad()
    def peaks(self, image: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` strongest heatmap peaks of one uint8 image (1, 3, H, W): (k, 2) pixels
        (u, v) and (k,) log-probabilities, best first: candidates when the best one can be
        ruled out by what else is known (another object's place, the task's geometry)."""
        self.model.eval()
        cells, scores = heatmap_peaks(self.model(to_input(image))[0], k)
        return (cells * self.model.stride).numpy().astype(np.float64), scores.numpy()

    def to_world(self, pixels: np.ndarray) -> np.ndarray:
        """Image pixels (N, 2) -> world positions (N, 3) on the object's rest plane, through
        the nominal (calibrated) camera."""
        cam = self.meta["camera"]
        return back_project(pixels, np.asarray(cam["K"]), np.asarray(cam["extrinsics"]),
                            self.meta["plane_z"])  # fmt: skip

    def world_to_pixels(self, points: np.ndarray) -> np.ndarray:
        """World points (N, 3) -> image pixels (N, 2) through the nominal camera."""
        cam = self.meta["camera"]
        return project(points, np.asarray(cam["K"]), np.asarray(cam["extrinsics"]))

    def positions(self, images: torch.Tensor) -> np.ndarray:
        """World positions (N, 3), metres, back-projected through the nominal camera onto the
        plane at the object's rest height."""
        return self.to_world(self.pixels(images))


def nominal_camera(env_id: str, image_size: int) -> dict[str, Any]:
    """The env's un-randomized camera at ``image_size`` (what a calibration measures)."""
    import gymnasium as gym

    env = gym.make(env_id, image_size=image_size)
    try:
        return env.unwrapped.camera.info()  # type: ignore[attr-defined, no-any-return]
    finally:
        env.close()


def _records(root: str | Path) -> list[dict[str, Any]]:
    rows = (Path(root) / "samples.jsonl").read_text().splitlines()
    return [json.loads(line) for line in rows if line.strip()]


def _positions(records: list[dict[str, Any]], object_name: str) -> np.ndarray:
    return np.asarray(
        [next(o for o in r["objects"] if o["name"] == object_name)["world_pose"]["position"]
         for r in records],
        dtype=np.float64,
    )  # fmt: skip


def world_positions(root: str | Path, object_name: str) -> np.ndarray:
    """The object's world position (N, 3) in every sample of an export, in index order."""
    return _positions(_records(root), object_name)


def true_pixels(data: PoseData) -> np.ndarray:
    """The object's true projected centre (N, 2) in pixels (``data.pixels`` is in [-1, 1])."""
    assert data.pixels is not None
    return (data.pixels.numpy().astype(np.float64) + 1.0) * 0.5 * data.images.shape[-1]


def pixel_errors(uv: np.ndarray, data: PoseData) -> np.ndarray:
    """Distance (px) between predicted projected centres ``uv`` (N, 2) and the true ones."""
    return np.linalg.norm(uv - true_pixels(data), axis=1)  # type: ignore[no-any-return]


def save_localizer(loc: Localizer, path: str | Path) -> Path:
    """Write weights, settings and what the model assumes (atomic)."""
    return save_model_checkpoint(path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION,
                                 config=loc.config, meta=loc.meta, history=loc.history,
                                 model=loc.model)  # fmt: skip


def load_localizer(path: str | Path) -> Localizer:
    """Read a checkpoint of :func:`save_localizer` (``weights_only=True``)."""
    config, model, meta, history = load_model_checkpoint(
        path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="localizer",
        train_hint="scripts/train_localizer.py --train DIR --val DIR --out CKPT",
        config_type=LocalizerConfig,
        build=lambda c: HeatmapNet(c.width, c.stem_stride, c.mask_weight > 0, c.merge),
    )  # fmt: skip
    return Localizer(cast(HeatmapNet, model), config, meta, history)


def check_compatible(loc: Localizer, data: PoseData, path: str | Path) -> None:
    """Refuse data made for another env, image size or object, naming both sides."""
    size = int(data.images.shape[-1])
    if size != loc.image_size or data.images.shape[-2] != loc.image_size:
        raise ValueError(f"{str(path)!r} was trained on {loc.image_size} px images; "
                         f"{data.root!r} holds {tuple(data.images.shape[-2:])} px images")  # fmt: skip
    env_id = data.manifest.get("env_id")
    if env_id is not None and env_id != loc.meta["env_id"]:
        raise ValueError(f"{str(path)!r} was trained on {loc.meta['env_id']}; "
                         f"{data.root!r} was exported from {env_id}")  # fmt: skip


CAMERAS = ("nominal", "recorded")


def evaluate_localizer(loc: Localizer, data: PoseData, camera: str = "nominal") -> dict[str, Any]:
    """Position errors (cm) and pixel errors. ``camera="nominal"`` back-projects through the
    calibrated camera the checkpoint records (what a deployment knows); ``"recorded"``
    through each sample's own, possibly randomized, camera (the detector's accuracy alone,
    for randomized validation data)."""
    if camera not in CAMERAS:
        raise ValueError(f"unknown camera {camera!r}; allowed: {', '.join(CAMERAS)}")
    uv = loc.pixels(data.images)  # once: with test-time averaging it is the whole cost
    true = None if camera == "recorded" else data.world_of(loc.meta["object"])
    records: list[dict[str, Any]] = []  # parsed again only for what PoseData does not hold
    if true is None:
        records = _records(data.root)
        records = records if data.index is None else [records[i] for i in data.index]
        true = _positions(records, loc.meta["object"])
    if camera == "nominal":
        pred = loc.to_world(uv)
    else:
        pred = np.concatenate([
            back_project(uv[i : i + 1], np.asarray(c["K"]), np.asarray(c["extrinsics"]),
                         loc.meta["plane_z"])
            for i, c in enumerate(r["camera"] for r in records)
        ])  # fmt: skip
    cm = np.linalg.norm(pred - true, axis=1) * 100.0
    cm = np.where(np.isfinite(cm), cm, 100.0)  # a ray that misses the plane counts as 1 m
    px = pixel_errors(uv, data)
    return {"mean_cm": float(cm.mean()), "std_cm": float(cm.std()),
            "median_cm": float(np.median(cm)), "p90_cm": float(np.percentile(cm, 90)),
            "n": len(cm), "px_mean": float(px.mean()), "px_median": float(np.median(px)),
            "camera": camera, "predicted_xy": pred[:, :2].tolist(),
            "true_xy": true[:, :2].tolist()}  # fmt: skip


def load_data(root: str | Path, object_name: str) -> PoseData:
    """An export's images and labels (see :func:`agents.perception.pose_data.load_pose_data`)."""
    return load_pose_data(root, object_name)
