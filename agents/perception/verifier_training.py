"""Training the candidate verifier (:mod:`agents.perception.verifier`): mine the localizer's
strongest heatmap peaks on a randomized export, label each by its distance to the object's
true projected centre, and fit the crop network on them plus one jittered crop of the true
centre per image. The epoch, the heatmap weight ``alpha``, whether to apply the predicted
offset, the number of peaks re-ranked and whether to average the heatmap with its mirror
image's and over half-cell shifts are chosen on randomized validation data only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from agents.perception.localizer import INFERENCE_BATCH, Localizer, to_input, true_pixels
from agents.perception.photometric import training_input
from agents.perception.pose_data import PoseData
from agents.perception.verifier import (
    CropNet,
    Verifier,
    VerifierConfig,
    averaged,
    batch_peaks,
    crops,
    mirror_where,
    pad_images,
    select,
)
from agents.training import FitConfig, fit, forward_precision, one_cycle, seeded

ALPHAS = (0.0, 0.25, 0.5, 1.0, 2.0)  # heatmap weights tried on validation
PEAKS = (3, 5, 8)  # heatmap peaks re-ranked per image, tried on validation
JITTER_PX = 3.0  # the true centre's crops are shifted up to this much in u and v


@torch.no_grad()
def mine_candidates(loc: Localizer, data: PoseData, k: int, progress: bool = False
                    ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The localizer's ``k`` strongest peaks on every image of ``data``: (N, k, 2) pixels
    and (N, k) log-probabilities (``-inf`` where an image has fewer peaks)."""
    loc.model.eval()
    return mine_variants([loc.model], data, k, progress)[0]


@torch.no_grad()
def mine_variants(models: list[nn.Module], data: PoseData, k: int, progress: bool = False
                  ) -> list[tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """:func:`mine_candidates` for each of ``models`` (heatmap models in eval mode with a
    ``stride``), batch by batch, so that models sharing a :class:`SeenInputs` reuse its
    forward passes within a batch."""
    parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in models]
    for i in tqdm(range(0, len(data), INFERENCE_BATCH), desc="peaks", unit="batch",
                  disable=not progress):  # fmt: skip
        x = to_input(data.images[i : i + INFERENCE_BATCH])
        for model, found in zip(models, parts, strict=True):
            found.append(batch_peaks(model(x), k, cast(Any, model).stride))
        for module in {id(m): m for model in models for m in model.modules()}.values():
            if isinstance(module, SeenInputs):  # also inside FlipAveraged / ShiftAveraged
                module.forget()
    return [(np.concatenate([c for c, _ in p]), np.concatenate([s for _, s in p])) for p in parts]


class SeenInputs(nn.Module):
    """A heatmap model that answers an input equal to one it has seen since :meth:`forget`
    from memory: the four averaging settings of one batch (1 + 2 + 4 + 8 views) read only
    eight distinct views, so choosing among them costs 8 forward passes per image, not 15."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.stride = int(cast(Any, model).stride)
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The wrapped model's output for ``x`` (computed once per distinct input)."""
        for seen, out in self.seen:
            if seen.shape == x.shape and torch.equal(seen, x):
                return out
        out = self.model(x)
        self.seen.append((x, out))
        return out

    def forget(self) -> None:
        """Drop the remembered inputs (call between batches)."""
        self.seen.clear()


def check_crop_data(loc: Localizer, localizer_name: str, train: PoseData, val: PoseData) -> None:
    """Refuse training or validation data without projected centres, or of another image
    size than ``loc`` reads (a crop network learns on ``loc``'s images)."""
    for name, data in (("training", train), ("validation", val)):
        if data.pixels is None or not len(data):
            raise ValueError(f"the {name} data has no samples with projected centres")
        if data.images.shape[-1] != loc.image_size:
            raise ValueError(f"{localizer_name!r} takes {loc.image_size} px images; the {name} "
                             f"data {data.root!r} holds {data.images.shape[-1]} px")  # fmt: skip


def rerank_stats(picked: np.ndarray, true: np.ndarray, positive_px: float) -> dict[str, float]:
    """Pixel error of the picks (N, 2) against ``true``: mean, median and the share of
    images farther than ``positive_px`` (a look-alike won)."""
    err = np.linalg.norm(picked - true, axis=1)
    return {"px_mean": float(err.mean()), "px_median": float(np.median(err)),
            "miss": float((err > positive_px).mean())}  # fmt: skip


def train_verifier(
    loc: Localizer,
    train: PoseData,
    val: PoseData,
    config: VerifierConfig,
    *,
    localizer_name: str,
    init: Verifier | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> Verifier:
    """Fit a :class:`Verifier` to ``loc``'s peaks on ``train`` (from ``init``'s weights
    when given: same width and crop) and choose the epoch, alpha and offset refinement on
    ``val`` (a randomized training domain, never a held-out one)."""
    if init is not None and (init.config.width, init.config.crop) != (config.width, config.crop):
        raise ValueError(f"cannot start from a verifier with (width, crop) "
                         f"{(init.config.width, init.config.crop)}: this training has "
                         f"{(config.width, config.crop)}")  # fmt: skip
    check_crop_data(loc, localizer_name, train, val)
    cands, logp = mine_candidates(loc, train, config.k, progress)
    true = true_pixels(train)
    dist = np.linalg.norm(cands - true[:, None], axis=2)
    keep = np.isfinite(logp) & ((dist <= config.positive_px) | (dist > config.negative_px))
    rows, cols = np.nonzero(keep)
    # samples: every kept candidate, then one jittered true centre per image
    sample_rows = np.concatenate([rows, np.arange(len(train))])
    sample_cands = cands[rows, cols]
    n_cand = len(rows)
    padded = pad_images(train.images, config.crop)
    with seeded(config.seed):
        model = CropNet(config.width)
    if init is not None:
        model.load_state_dict(init.model.state_dict())
    v_cands, v_logp = mine_candidates(loc, val, config.k)
    v_true = true_pixels(val)
    meta: dict[str, Any] = {
        "env_id": loc.meta["env_id"], "image_size": loc.image_size,
        "object": loc.meta["object"], "localizer": localizer_name, "num_train": len(train),
        "num_candidates": n_cand, "positive_share": float((dist[rows, cols] <= config.positive_px).mean()),
        "alpha": 1.0, "refine": False,
    }  # fmt: skip
    verifier = Verifier(model, config, meta)

    def loss_fn(idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        i = idx.numpy()
        is_cand = i < n_cand
        centres = np.empty((len(i), 2))
        centres[is_cand] = sample_cands[i[is_cand]]
        img = sample_rows[i]
        shift = (torch.rand(int((~is_cand).sum()), 2, generator=gen).numpy() * 2 - 1) * JITTER_PX
        centres[~is_cand] = true[img[~is_cand]] + shift
        patches, c = crops(padded, torch.as_tensor(img), centres, config.crop)
        offset = torch.as_tensor(true[img] - c, dtype=torch.float32)
        flip = torch.rand(len(i), generator=gen) < 0.5
        patches, offset = mirror_where(patches, offset, flip)
        x = training_input(patches, config.color_jitter, gen)
        with forward_precision(config.precision):
            out = model(x)
        out = out.float()
        y = (offset.norm(dim=1) <= config.positive_px).float()
        loss = F.binary_cross_entropy_with_logits(out[:, 0], y)
        if config.offset_weight > 0 and y.sum() > 0:
            l1 = ((out[:, 1:] - offset).abs().sum(1) * y).sum() / y.sum()
            loss = loss + config.offset_weight * l1
        return loss

    def validate() -> dict[str, float]:
        picked = verifier.choose(val.images, v_cands, v_logp)
        return {f"val_{k}": v for k, v in rerank_stats(picked, v_true, config.positive_px).items()}

    done = fit(
        model, loss_fn, len(sample_rows),
        FitConfig(batch_size=config.batch_size, epochs=config.epochs, drop_last=True,
                  lr=config.lr, desc="verifier"),
        gen=torch.Generator().manual_seed(config.seed), schedule=one_cycle(config.lr),
        validate=validate, select="val_px_mean",
        on_epoch=None if log is None else lambda row: log(json.dumps(row)), progress=progress,
    )  # fmt: skip
    verifier.history = done.history
    meta["selected_epoch"] = done.best_epoch
    meta |= choose_settings(verifier, loc, val)
    return verifier


def choose_settings(verifier: Verifier, loc: Localizer, val: PoseData) -> dict[str, Any]:
    """The inference settings of ``verifier`` on ``loc``'s peaks with the least mean pixel
    error on ``val`` (randomized validation data): ``alpha``, ``refine``, ``peaks``,
    ``flip`` and ``shift``, with the winner's figures (``val_with``), every trial's
    (``val_trials``) and those of the heatmap's best peak alone (``val_without``). Ties go
    to the cheaper setting (fewer peaks, no flip, no shift)."""
    tried = sorted({*PEAKS, verifier.config.k})
    true, near = true_pixels(val), verifier.config.positive_px
    trials: dict[tuple[float, bool, int, bool, bool], dict[str, float]] = {}
    variants = ((False, False), (True, False), (False, True), (True, True))
    seen = SeenInputs(loc.model.eval())
    mined = mine_variants([averaged(seen, flip, shift) for flip, shift in variants], val,
                          tried[-1])  # fmt: skip
    outputs = verifier.shared_scores(val.images, [cands for cands, _ in mined])
    scored = dict(zip(variants, outputs, strict=True))
    for (flip, shift), (cands, logp) in zip(variants, mined, strict=True):
        if not (flip or shift):
            without = rerank_stats(cands[:, 0], true, near)
        out = scored[flip, shift]
        for peaks in tried:
            c, lp, o = cands[:, :peaks], logp[:, :peaks], out[:, :peaks]
            for a in ALPHAS:
                for r in (False, True):
                    picked = select(c, lp, o, a, r)
                    trials[a, r, peaks, flip, shift] = rerank_stats(picked, true, near)
    (alpha, refine, peaks, flip, shift), best = min(trials.items(),
                                                    key=lambda kv: kv[1]["px_mean"])  # fmt: skip
    cands, logp = mined[variants.index((flip, shift))]
    picks = select(cands[:, :peaks], logp[:, :peaks], scored[flip, shift][:, :peaks], alpha,
                   False)  # fmt: skip
    return {"alpha": alpha, "refine": refine, "peaks": peaks, "flip": flip, "shift": shift,
            "val_without": without, "val_with": best,
            # what a refiner validates from: these picks unmoved by the verifier's offset
            "val_picks": picks.tolist(), "val_digest": picks_digest(loc.model, val.images),
            "val_trials": [{"alpha": a, "refine": r, "peaks": k, "flip": f, "shift": sh, **t}
                           for (a, r, k, f, sh), t in trials.items()]}  # fmt: skip


def picks_digest(model: nn.Module, images: torch.Tensor) -> str:
    """A digest of a heatmap model's weights and of a set of images: a verifier's
    validation picks stand for a refiner's only with the very same of both."""
    h = hashlib.sha256()
    for t in model.state_dict().values():
        h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    h.update(str(tuple(images.shape)).encode())
    h.update(images.permute(0, 2, 3, 1).contiguous().numpy().tobytes())
    return h.hexdigest()


def validation_picks(loc: Localizer, images: torch.Tensor) -> np.ndarray | None:
    """The picks (N, 2) that ``loc``'s verifier made, unmoved by its offset, while choosing
    its settings on ``images`` (None when it chose them on other images or another network,
    or predates them): the same numbers as ``without_offset(loc).pixels(images)``, about
    40 s sooner on the recipe's 2,700 validation images."""
    meta = getattr(getattr(loc, "verifier", None), "meta", {})
    if "val_picks" not in meta or meta.get("val_digest") != picks_digest(loc.model, images):
        return None
    return np.asarray(meta["val_picks"], dtype=np.float64).reshape(len(images), 2)
