"""Offset refiner: a last, full-resolution look at the localizer's answer.

The heatmap network reads the image at a quarter of its resolution; where the object is
partly hidden, its answer is often a few pixels off the hidden centre. The refiner is a
small CNN (the verifier's :class:`~agents.perception.verifier.CropNet`) that reads a
full-resolution crop around the localizer's pixel and predicts where the object's centre
lies from the crop's centre pixel. It is trained on crops shifted at random from the true
centre (:mod:`agents.perception.refiner_training`), needs no mining of the localizer's
peaks and is cheap: about 45 s an epoch on 48,000 images on 2 cores. How many refinement
steps to take (0, 1 or 2) is chosen on randomized validation data. On the command line it
joins a localizer spec as one more checkpoint: ``A.pt+V.pt+R.pt``
(:func:`agents.perception.ensemble.load_localizer_spec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from agents.checkpoints import load_model_checkpoint, save_model_checkpoint
from agents.outputs import checkpoint_kind
from agents.perception.localizer import Localizer
from agents.perception.verifier import (
    CropNet,
    VerifiedLocalizer,
    check_goes_with,
    crop_outputs,
    crops,
    pad_images,
)
from agents.training import check_precision

CHECKPOINT_FORMAT = "domrand-refiner"
CHECKPOINT_VERSION = 1
TRAIN_HINT = "scripts/train_refiner.py --localizer SPEC --train DIR --val DIR --out CKPT"
STEPS = (0, 1, 2)  # refinement steps tried on validation


@dataclass(frozen=True)
class RefinerConfig:
    """Training settings (chosen on randomized validation data only)."""

    epochs: int = 8
    batch_size: int = 256
    lr: float = 1e-3  # peak of the one-cycle schedule
    width: int = 32  # channels of the first stage; later stages use 2x and 4x
    crop: int = 32  # side of the square crop around the localizer's pixel (px)
    jitter_px: float = 3.0  # std of the training crops' Gaussian shift from the true centre
    max_jitter_px: float = 10.0  # that shift is clipped to this, per axis
    color_jitter: float = 0.4  # photometric augmentation strength (agents.perception.photometric)
    precision: str = "fp32"  # "bf16": the training forward pass in bfloat16 (agents.training)
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "width", "crop"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        if self.crop % 4:
            raise ValueError(f"crop must be a multiple of 4 (two 2x poolings), got {self.crop}")
        for key in ("lr", "jitter_px", "max_jitter_px"):
            value = getattr(self, key)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"{key} must be a finite number > 0, got {value!r}")
        if self.max_jitter_px >= self.crop / 2:
            raise ValueError(f"max_jitter_px ({self.max_jitter_px}) must stay below half the "
                             f"crop ({self.crop / 2:g} px), or the centre can leave the crop")  # fmt: skip
        if not 0 <= self.color_jitter < 1:
            raise ValueError(f"color_jitter must lie in [0, 1), got {self.color_jitter!r}")
        check_precision(self.precision)


@dataclass
class Refiner:
    """A trained crop network and how many refinement steps it takes."""

    model: CropNet
    config: RefinerConfig
    meta: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Refinement steps at inference (chosen on validation)."""
        return int(self.meta.get("steps", 1))

    @torch.no_grad()
    def refine(self, images: torch.Tensor, pixels: np.ndarray, steps: int | None = None) -> np.ndarray:
        """Pixels (N, 2) moved to the predicted centre of the object in crops of the uint8
        images (N, 3, H, W) around them, ``steps`` times (default: :attr:`steps`)."""
        self.model.eval()
        out = np.asarray(pixels, dtype=np.float64).copy()
        if not len(out):
            return out
        padded = pad_images(images, self.config.crop)
        rows = torch.arange(len(out))
        for _ in range(self.steps if steps is None else steps):
            x, centre = crops(padded, rows, out, self.config.crop)
            offset = crop_outputs(self.model, x)[:, 1:]
            out = centre + offset.numpy().astype(np.float64)
        return out


@dataclass
class RefinedLocalizer(Localizer):
    """A localizer (or verified ensemble) whose pixels a :class:`Refiner` moves."""

    base: Localizer = field(kw_only=True)
    refiner: Refiner = field(kw_only=True)

    @torch.no_grad()
    def pixels(self, images: torch.Tensor, exclude: np.ndarray | None = None,
               radius: float = 4.0) -> np.ndarray:  # fmt: skip
        """The base localizer's pixels (see :meth:`Localizer.pixels`), refined."""
        out = [self.refiner.refine(images[i : i + 256],
                                   self.base.pixels(images[i : i + 256], exclude, radius))
               for i in range(0, len(images), 256)]  # fmt: skip
        return np.concatenate(out) if out else np.zeros((0, 2))

    def peaks(self, image: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The base localizer's candidates (unrefined), best first."""
        return self.base.peaks(image, k)


def without_offset(loc: Localizer) -> Localizer:
    """``loc`` answering with its verifier's pick unmoved by the verifier's own offset: what
    a refiner starts from (validation, seed-0 sharper-target recipe: calibrated occluded
    2.29 cm from the pick against 2.33 from the offset pick)."""
    if not isinstance(loc, VerifiedLocalizer) or not loc.verifier.meta.get("refine"):
        return loc
    return replace(loc, verifier=replace(loc.verifier, meta={**loc.verifier.meta, "refine": False}))


def with_refiner(loc: Localizer, refiner: Refiner, names: tuple[str, str]) -> RefinedLocalizer:
    """``loc`` with ``refiner`` moving its pixels (in place of a verifier's own offset);
    object, env and image size must agree (``names``: the localizer spec's and the
    refiner's, for the error)."""
    check_goes_with(loc, refiner.meta, names, "refines")
    meta = {**loc.meta, "refiner": names[1]}
    return RefinedLocalizer(loc.model, loc.config, meta, loc.history, base=without_offset(loc),
                            refiner=refiner)  # fmt: skip


def save_refiner(refiner: Refiner, path: str | Path) -> Path:
    """Write weights, settings and what the refiner assumes (atomic)."""
    return save_model_checkpoint(path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION,
                                 config=refiner.config, meta=refiner.meta,
                                 history=refiner.history, model=refiner.model)  # fmt: skip


def load_refiner(path: str | Path) -> Refiner:
    """Read a checkpoint of :func:`save_refiner` (``weights_only=True``)."""
    config, model, meta, history = load_model_checkpoint(
        path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="refiner",
        train_hint=TRAIN_HINT, config_type=RefinerConfig, build=lambda c: CropNet(c.width),
    )  # fmt: skip
    return Refiner(cast(CropNet, model), config, meta, history)


def is_refiner_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a file tagged as a refiner checkpoint (anything else: False)."""
    return checkpoint_kind(path) == "refiner"
