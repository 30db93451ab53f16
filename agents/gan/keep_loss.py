"""Semantic consistency for the translator (as in CyCADA, Hoffman et al. 2018): a frozen
localizer, trained on randomized renders only, must still find the object in the
translation where the render's labels put it.

PatchNCE alone keeps the layout but lets the generator paint over a 4 px cube; this loss
makes "the object's mask and projected centre do not move" part of the objective. It uses
only simulator labels of the renders, never a label of the target domain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from agents.perception.localizer import Localizer, heatmap_loss
from agents.perception.pose_data import load_object_masks, load_pose_data


@dataclass
class LabelledRenders:
    """Renders (N, S, S, 3) uint8 with the object's projected centre (N, 2) in [-1, 1] and
    its instance mask (N, S, S) bool."""

    images: np.ndarray
    pixels: torch.Tensor
    masks: torch.Tensor


def labelled_renders(roots: list[str | Path], limit: int, size: int, object_name: str,
                     seed: int = 0) -> LabelledRenders:  # fmt: skip
    """Up to ``limit`` labelled renders drawn evenly from export folders."""
    if not roots:
        raise ValueError("no export folders given to read renders from")
    rng = np.random.default_rng(seed)
    per = -(-limit // len(roots))
    images, pixels, masks = [], [], []
    for root in roots:
        data = load_pose_data(root, object_name)
        if data.images.shape[-1] != size or data.pixels is None:
            raise ValueError(f"{str(root)!r} holds {data.images.shape[-1]} px images (the "
                             f"translator works at {size} px) or no centres of {object_name!r}")  # fmt: skip
        data = data.subset(np.sort(rng.choice(len(data), min(per, len(data)), replace=False)))
        assert data.pixels is not None
        images.append(data.images.permute(0, 2, 3, 1).numpy())
        pixels.append(data.pixels)
        masks.append(load_object_masks(data, object_name))
    return LabelledRenders(np.concatenate(images)[:limit], torch.cat(pixels)[:limit],
                           torch.cat(masks)[:limit])  # fmt: skip


def frozen(loc: Localizer) -> Localizer:
    """``loc`` in eval mode with gradients off for its weights (they are never updated)."""
    loc.model.eval()
    for p in loc.model.parameters():
        p.requires_grad_(False)
    return loc


def keep_loss(loc: Localizer, fake: torch.Tensor, pixels: torch.Tensor,
              masks: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """The localizer's own training loss on translated images ``fake`` (in [-1, 1]) against
    the renders' centres ``pixels`` ([-1, 1]) and masks: heatmap loss, plus the mask term
    when the localizer has a mask head."""
    cfg = loc.config
    stride = 2 * cfg.stem_stride
    out = loc.model.outputs(fake)
    heat = out.shape[-1]
    loss = heatmap_loss(out[:, 0], (pixels + 1.0) * 0.5 * heat, cfg.sigma, cfg.pixel_weight)
    if out.shape[1] > 1:
        cover = F.avg_pool2d(masks[:, None].float(), stride)[:, 0]
        loss = loss + F.binary_cross_entropy_with_logits(out[:, 1], cover)
    return loss


__all__ = ["LabelledRenders", "frozen", "keep_loss", "labelled_renders"]
