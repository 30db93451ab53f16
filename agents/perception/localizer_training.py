"""Training the localizer (:mod:`agents.perception.localizer`): the heatmap loss, optional
photometric augmentation and an optional auxiliary segmentation loss on the object's
instance mask, through the project's one fit loop; the epoch is chosen on randomized
validation data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from agents.perception.heatmap_net import HeatmapNet
from agents.perception.localizer import (
    Localizer,
    LocalizerConfig,
    heatmap_loss,
    nominal_camera,
    pixel_errors,
    world_positions,
)
from agents.perception.photometric import training_input
from agents.perception.pose_data import PoseData
from agents.training import FitConfig, fit, forward_precision, one_cycle, seeded


def _cells(pixels: torch.Tensor, heat: int) -> torch.Tensor:
    """Projected centres in [-1, 1] (as :class:`PoseData` holds them) -> heatmap cells."""
    return (pixels + 1.0) * 0.5 * heat


def mask_targets(masks: torch.Tensor, stride: int) -> torch.Tensor:
    """Instance masks (N, H, W) bool -> the object's covered fraction of each heatmap cell."""
    return F.avg_pool2d(masks[:, None].float(), stride)[:, 0]


def mirror_batch(x: torch.Tensor, pixels: torch.Tensor, cover: torch.Tensor | None,
                 flip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Images (N, 3, H, W), projected centres (N, 2) in [-1, 1] and covered cell fractions
    (N, h, w) with the samples where ``flip`` (N,) is true mirrored left-right; the images
    in place (a fresh training batch: a third of the time of a mirrored copy). A render's
    pixel u shows what its mirror image shows at W - 1 - u (pixel centres at whole u in
    the camera's K), so a centre p moves to -p - 2 / W."""
    width = x.shape[-1]
    x[flip] = x[flip].flip(-1)
    mirrored = pixels.clone()
    mirrored[:, 0] = torch.where(flip, -pixels[:, 0] - 2.0 / width, pixels[:, 0])
    if cover is not None:
        cover = torch.where(flip[:, None, None], cover.flip(-1), cover)
    return x, mirrored, cover


def half_size(images: torch.Tensor, pixels: torch.Tensor, cover: torch.Tensor | None,
              chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """uint8 images (N, 3, H, W) averaged over 2 x 2 pixels (rounded), their projected
    centres (N, 2) in [-1, 1] and covered cell fractions (N, h, w) at that size: the
    progressive-resizing epochs' data. A half-size pixel u' is centred on the full-size
    u = 2u' + 0.5, so a centre p moves to p - 1 / W; a heatmap cell covers 2 x 2 cells."""
    n, _, h, w = images.shape
    small = torch.empty((n, 3, h // 2, w // 2), dtype=torch.uint8)
    for i in range(0, n, chunk):
        part = F.avg_pool2d(images[i : i + chunk].float(), 2)
        small[i : i + chunk] = part.round_().to(torch.uint8)
    half_cover = None if cover is None else F.avg_pool2d(cover[:, None], 2)[:, 0]
    return small, pixels - 1.0 / w, half_cover


def localizer_loss(out: torch.Tensor, pixels: torch.Tensor, cover: torch.Tensor | None,
                   config: LocalizerConfig) -> torch.Tensor:  # fmt: skip
    """The localizer's training loss on network outputs ``out`` (N, 1 or 2, h, w): the
    heatmap loss against projected centres ``pixels`` (in [-1, 1]), plus ``mask_weight`` x
    BCE against the object's covered cell fractions ``cover`` when given."""
    loss = heatmap_loss(out[:, 0], _cells(pixels, out.shape[-1]), config.sigma,
                        config.pixel_weight)  # fmt: skip
    if cover is not None:
        loss = loss + config.mask_weight * F.binary_cross_entropy_with_logits(out[:, 1], cover)
    return loss


def batch_loss(model: HeatmapNet, x: torch.Tensor, pixels: torch.Tensor,
               cover: torch.Tensor | None, config: LocalizerConfig) -> torch.Tensor:  # fmt: skip
    """One prepared batch's training loss: the forward pass in ``config.precision``, the
    loss (:func:`localizer_loss`) in float32. Shared by training and the benchmark."""
    with forward_precision(config.precision):
        out = model.outputs(x)
    return localizer_loss(out.float(), pixels, cover, config)


def train_localizer(
    train: PoseData,
    val: PoseData | None,
    config: LocalizerConfig,
    *,
    env_id: str,
    masks: torch.Tensor | None = None,
    init: Localizer | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Localizer:
    """Fit the heatmap network (AdamW, one-cycle schedule, :func:`heatmap_loss`, plus
    ``mask_weight`` x BCE on ``masks`` when set), from ``init``'s weights when given (a
    fine-tune: same width, mask head, heatmap side and merge, so a stride-1 model at 64 px
    can start a stride-2 one at 128 px); keeps the epoch with the lowest mean validation
    pixel error (validation data must come from a randomized training domain,
    never a held-out one)."""
    if train.pixels is None or len(train) < config.batch_size:
        raise ValueError(
            f"need at least batch_size={config.batch_size} training samples with projected "
            f"centres, got {len(train)}"
        )
    size = int(train.images.shape[-1])
    stride = 2 * config.stem_stride
    if train.images.shape[-2] != size or size % stride:
        raise ValueError(f"the localizer needs square images whose size is a multiple of "
                         f"{stride}, got {tuple(train.images.shape[-2:])}")  # fmt: skip
    use_masks = config.mask_weight > 0
    if use_masks and (masks is None or tuple(masks.shape) != (len(train), size, size)):
        got = None if masks is None else tuple(masks.shape)
        raise ValueError(f"mask_weight={config.mask_weight} needs one {size}x{size} object "
                         f"mask per training sample, got {got}")  # fmt: skip
    pixels = train.pixels
    cover = mask_targets(masks, stride) if use_masks and masks is not None else None
    if config.low_res_epochs and size % (2 * stride):
        raise ValueError(f"low_res_epochs needs an image size that is a multiple of "
                         f"{2 * stride} (half of it a multiple of the stride), got {size}")  # fmt: skip
    # the first low_res_epochs x batches steps read the half-size copy (a quarter of the work)
    small = half_size(train.images, pixels, cover) if config.low_res_epochs else None
    fit_config = FitConfig(batch_size=config.batch_size, epochs=config.epochs, drop_last=True,
                           lr=config.lr, desc="localizer")  # fmt: skip
    low_steps = config.low_res_epochs * fit_config.batches_per_epoch(len(train))
    steps = 0
    with seeded(config.seed):
        model = HeatmapNet(config.width, config.stem_stride, use_masks, config.merge)
    if init is not None:
        # the same heatmap grid is enough: a stride-1 64 px model starts a stride-2 128 px one
        mine = (config.width, use_masks, size // stride, config.merge)
        theirs = (init.config.width, init.config.mask_weight > 0,
                  init.image_size // init.model.stride, init.config.merge)  # fmt: skip
        if mine != theirs:
            raise ValueError(f"cannot start from a localizer with (width, mask head, heatmap "
                             f"side, merge) {theirs}: this training has {mine}")  # fmt: skip
        model.load_state_dict(init.model.state_dict())
    world = train.world_of(config.object_name)
    z = (world_positions(train.root, config.object_name) if world is None else world)[:, 2]
    meta = {"env_id": env_id, "image_size": size, "object": config.object_name,
            "camera": nominal_camera(env_id, size), "plane_z": float(np.median(z)),
            "train_preset": (train.manifest.get("preset") or {}).get("name"),
            "num_train": len(train)}  # fmt: skip
    loc = Localizer(model, config, meta)

    def loss_fn(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        nonlocal steps
        steps += 1
        all_images, all_pixels, all_cover = (
            small if small is not None and steps <= low_steps else (train.images, pixels, cover)
        )  # fmt: skip
        x = training_input(all_images[idx], config.color_jitter, gen)
        p, c = all_pixels[idx], None if all_cover is None else all_cover[idx]
        if config.mirror:
            x, p, c = mirror_batch(x, p, c, torch.rand(len(idx), generator=gen) < 0.5)
        return batch_loss(model, x, p, c, config)

    def validate() -> dict[str, float]:
        assert val is not None
        err = pixel_errors(loc.pixels(val.images), val)
        return {"val_px_mean": float(err.mean()), "val_px_median": float(np.median(err))}

    done = fit(
        model, loss_fn, len(train), fit_config,
        gen=torch.Generator().manual_seed(config.seed), schedule=one_cycle(config.lr),
        validate=None if val is None else validate,
        select=None if val is None else "val_px_mean",
        on_epoch=None if log is None else lambda row: log(json.dumps(row)), progress=progress,
    )  # fmt: skip
    loc.history = done.history
    if done.best_epoch is not None:
        loc.meta["selected_epoch"] = done.best_epoch
    return loc
