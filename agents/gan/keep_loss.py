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

from agents.gan.even_draw import EvenDraw
from agents.perception.localizer import Localizer
from agents.perception.localizer_training import localizer_loss, mask_targets
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
    draw = EvenDraw(roots, limit, seed)
    images, pixels, masks = [], [], []
    for root in roots:
        data = load_pose_data(root, object_name)
        if data.images.shape[-1] != size or data.pixels is None:
            raise ValueError(f"{str(root)!r} holds {data.images.shape[-1]} px images (the "
                             f"translator works at {size} px) or no centres of {object_name!r}")  # fmt: skip
        data = data.subset(draw.indices(len(data)))
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
    """The localizer's own training loss (:func:`localizer_loss`) on translated images
    ``fake`` (in [-1, 1]) against the renders' centres ``pixels`` ([-1, 1]) and masks: the
    heatmap loss, plus the mask term when the localizer has a mask head."""
    out = loc.model.outputs(fake)
    cover = mask_targets(masks, 2 * loc.config.stem_stride) if out.shape[1] > 1 else None
    return localizer_loss(out, pixels, cover, loc.config)


__all__ = ["LabelledRenders", "frozen", "keep_loss", "labelled_renders"]
