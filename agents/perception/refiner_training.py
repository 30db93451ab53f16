"""Training the offset refiner (:mod:`agents.perception.refiner`): full-resolution crops
centred a random few pixels from the object's true projected centre, mirrored half the time
and photometrically jittered, with an L1 loss on the offset to that centre. The epoch and
the number of refinement steps are chosen on the localizer's own answers on randomized
validation data only.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from agents.perception.localizer import Localizer, pixel_errors, true_pixels
from agents.perception.photometric import training_input
from agents.perception.pose_data import PoseData
from agents.perception.refiner import STEPS, Refiner, RefinerConfig, without_offset
from agents.perception.verifier import CropNet, crops, mirror_where, pad_images
from agents.perception.verifier_training import check_crop_data, validation_picks
from agents.training import FitConfig, fit, forward_precision, one_cycle, seeded


def jittered_centres(true: np.ndarray, config: RefinerConfig, gen: torch.Generator) -> np.ndarray:
    """Crop centres (N, 2): the true centres ``true`` shifted by a Gaussian of std
    ``jitter_px``, clipped to ``max_jitter_px`` per axis."""
    shift = torch.randn(len(true), 2, generator=gen, dtype=torch.float64).numpy()
    return true + np.clip(shift * config.jitter_px, -config.max_jitter_px, config.max_jitter_px)


def px_stats(pixels: np.ndarray, data: PoseData) -> dict[str, float]:
    """Mean and median pixel error of ``pixels`` (N, 2) against ``data``'s true centres."""
    err = pixel_errors(pixels, data)
    return {"px_mean": float(err.mean()), "px_median": float(np.median(err))}


def train_refiner(
    loc: Localizer,
    train: PoseData,
    val: PoseData,
    config: RefinerConfig,
    *,
    localizer_name: str,
    init: CropNet | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Refiner:
    """Fit a :class:`Refiner` on ``train`` (from ``init``'s weights when given, such as the
    spec's verifier: same width) and choose the epoch and the number of steps by the mean
    pixel error of ``loc``'s refined answers (its verifier's offset left out) on ``val`` (a
    randomized training domain, never a held-out one)."""
    check_crop_data(loc, localizer_name, train, val)
    if len(train) < config.batch_size:
        raise ValueError(f"need at least batch_size={config.batch_size} training samples, "
                         f"got {len(train)}")  # fmt: skip
    true = true_pixels(train)
    padded = pad_images(train.images, config.crop)
    with seeded(config.seed):
        model = CropNet(config.width)
    if init is not None:
        model.load_state_dict(init.state_dict())
    answers = validation_picks(loc, val.images)
    if answers is None:
        answers = without_offset(loc).pixels(val.images)
    meta: dict[str, Any] = {"env_id": loc.meta["env_id"], "image_size": loc.image_size,
                            "object": loc.meta["object"], "localizer": localizer_name,
                            "num_train": len(train), "steps": 1}  # fmt: skip
    refiner = Refiner(model, config, meta)

    def loss_fn(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        i = idx.numpy()
        patches, c = crops(padded, idx, jittered_centres(true[i], config, gen), config.crop)
        offset = torch.as_tensor(true[i] - c, dtype=torch.float32)
        flip = torch.rand(len(i), generator=gen) < 0.5
        patches, offset = mirror_where(patches, offset, flip)
        x = training_input(patches, config.color_jitter, gen)
        with forward_precision(config.precision):
            out = model(x)
        return (out.float()[:, 1:] - offset).abs().sum(1).mean()

    def validate() -> dict[str, float]:
        stats = px_stats(refiner.refine(val.images, answers, 1), val)
        return {f"val_{k}": v for k, v in stats.items()}

    done = fit(
        model, loss_fn, len(train),
        FitConfig(batch_size=config.batch_size, epochs=config.epochs, drop_last=True,
                  lr=config.lr, desc="refiner"),
        gen=torch.Generator().manual_seed(config.seed), schedule=one_cycle(config.lr),
        validate=validate, select="val_px_mean",
        on_epoch=None if log is None else lambda row: log(json.dumps(row)), progress=progress,
    )  # fmt: skip
    refiner.history = done.history
    meta["selected_epoch"] = done.best_epoch
    meta |= choose_steps(refiner, val, answers)
    return refiner


def choose_steps(refiner: Refiner, val: PoseData, answers: np.ndarray) -> dict[str, Any]:
    """The number of refinement steps (of :data:`STEPS`) with the least mean pixel error of
    the localizer's ``answers`` on ``val``, with every trial's figures (ties: fewer steps)."""
    trials = [{"steps": s, **px_stats(refiner.refine(val.images, answers, s), val)}
              for s in STEPS]  # fmt: skip
    best = min(trials, key=lambda t: t["px_mean"])
    return {"steps": best["steps"], "val_trials": trials}
