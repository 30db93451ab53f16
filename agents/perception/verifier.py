"""Candidate verifier: a second look at the localizer's strongest heatmap peaks.

The heatmap network reads the image at a quarter of its resolution, where a 4 cm cube is a
few cells and a ball of its size looks alike; most large errors among distractors are such
look-alikes winning the heatmap. The verifier is a small CNN that reads a full-resolution
crop around each of the ``k`` strongest peaks and scores whether the object's centre lies
there; the peak with the best ``verifier logit + alpha x heatmap log-probability`` wins.
``alpha``, the number of peaks and whether the heatmap is averaged with its mirror image's
(:mod:`agents.perception.flip_average`) and over half-cell shifts
(:mod:`agents.perception.shift_average`) are chosen on randomized validation data. It is
trained on the localizer's own peaks over a randomized export
(:mod:`agents.perception.verifier_training`), so it learns exactly the confusions the
localizer makes. On the command line it joins a localizer spec as one more checkpoint:
``A.pt+B.pt+V.pt`` (:func:`agents.perception.ensemble.load_localizer_spec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from agents.checkpoints import load_model_checkpoint, save_model_checkpoint
from agents.outputs import checkpoint_kind
from agents.perception.flip_average import FlipAveraged
from agents.perception.localizer import (
    INFERENCE_BATCH,
    Localizer,
    batch_heatmap_peaks,
    exclude_cells,
    to_input,
)
from agents.perception.shift_average import ShiftAveraged
from agents.training import check_precision

# crops per forward pass at inference: 128 of 24 px run 1.4x the crops/s of 1,024 on a 2-core
# EPYC (the activations stay in cache); outputs are equal bit for bit
CROP_BATCH = 128

CHECKPOINT_FORMAT = "domrand-verifier"
CHECKPOINT_VERSION = 1
TRAIN_HINT = "scripts/train_verifier.py --localizer SPEC --train DIR --val DIR --out CKPT"


@dataclass(frozen=True)
class VerifierConfig:
    """Training settings (chosen on randomized validation data only)."""

    epochs: int = 3
    batch_size: int = 256
    lr: float = 2e-3  # peak of the one-cycle schedule
    width: int = 32  # channels of the first stage; later stages use 2x and 4x
    crop: int = 32  # side of the square crop around each candidate (px, full resolution)
    k: int = 3  # heatmap peaks re-ranked per image
    positive_px: float = 4.0  # a candidate this close to the true centre is the object
    negative_px: float = 8.0  # one farther than this is not; those between are not trained on
    offset_weight: float = 0.1  # weight of the L1 loss on the centre's offset in positive crops
    color_jitter: float = 0.4  # photometric augmentation strength (agents.perception.photometric)
    precision: str = "fp32"  # "bf16": the training forward pass in bfloat16 (agents.training)
    seed: int = 0

    def __post_init__(self) -> None:
        for key in ("epochs", "batch_size", "width", "crop", "k"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be an int >= 1, got {value!r}")
        if self.crop % 4:
            raise ValueError(f"crop must be a multiple of 4 (two 2x poolings), got {self.crop}")
        if not (isinstance(self.lr, (int, float)) and np.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not 0 < self.positive_px <= self.negative_px:
            raise ValueError(f"need 0 < positive_px <= negative_px, got {self.positive_px!r} "
                             f"and {self.negative_px!r}")  # fmt: skip
        if not (np.isfinite(self.offset_weight) and self.offset_weight >= 0):
            raise ValueError(f"offset_weight must be finite and >= 0, got {self.offset_weight!r}")
        if not 0 <= self.color_jitter < 1:
            raise ValueError(f"color_jitter must lie in [0, 1), got {self.color_jitter!r}")
        check_precision(self.precision)


def _block(i: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o),
                         nn.ReLU(inplace=True))  # fmt: skip


class CropNet(nn.Module):
    """(N, 3, crop, crop) in [-1, 1] -> (N, 3): the logit that the object's centre lies
    within ``positive_px`` of the crop's centre, and that centre's (dx, dy) offset in px."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(3, w), _block(w, w), nn.MaxPool2d(2),
            _block(w, 2 * w), _block(2 * w, 2 * w), nn.MaxPool2d(2),
            _block(2 * w, 4 * w), _block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.head = nn.Linear(4 * w, 3)
        # NHWC weights: ~1.1x faster on CPU (oneDNN)
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Crops -> (N, 3) [logit, dx, dy]."""
        return self.head(self.features(x))  # type: ignore[no-any-return]


@torch.no_grad()
def crop_outputs(model: CropNet, x: torch.Tensor) -> torch.Tensor:
    """``model``'s outputs (M, 3) for uint8 crops (M, 3, crop, crop), :data:`CROP_BATCH` at a
    time (inference: the verifier's scores, the refiner's offsets)."""
    return torch.cat([model(to_input(x[i : i + CROP_BATCH])) for i in range(0, len(x), CROP_BATCH)])


def pad_images(images: torch.Tensor, crop: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> zero-padded by ``crop // 2`` on every side, for :func:`crops`."""
    p = crop // 2
    return F.pad(images, (p, p, p, p))


def crops(padded: torch.Tensor, rows: torch.Tensor, centres: np.ndarray, crop: int
          ) -> tuple[torch.Tensor, np.ndarray]:  # fmt: skip
    """uint8 crops (M, 3, crop, crop) of the padded images ``padded[rows]`` around
    ``centres`` (M, 2) pixels (u, v), and the integer pixel each crop is centred on (M, 2):
    a crop covers ``[c - crop / 2, c + crop / 2)`` in both axes."""
    c = np.rint(np.asarray(centres, dtype=np.float64)).astype(np.int64)
    side = torch.arange(crop)
    top = torch.as_tensor(c[:, 1])[:, None] + side  # padding crop // 2 cancels the - crop // 2
    left = torch.as_tensor(c[:, 0])[:, None] + side
    top = top.clamp(0, padded.shape[2] - 1)
    left = left.clamp(0, padded.shape[3] - 1)
    x = padded[rows[:, None, None], :, top[:, :, None], left[:, None, :]]  # (M, crop, crop, 3)
    return x.permute(0, 3, 1, 2), c


def mirror_crops(patches: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (M, 3, crop, crop) mirrored left-right, with the object's offsets (M, 2) from
    each crop's centre pixel (column ``crop // 2``) mirrored too: that pixel lands in column
    ``crop // 2 - 1``, so an object ``du`` right of it ends up ``-du - 1`` from the centre."""
    mirrored = offsets.clone()
    mirrored[:, 0] = -offsets[:, 0] - 1.0
    return patches.flip(3), mirrored


def mirror_where(patches: torch.Tensor, offsets: torch.Tensor, flip: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """Crops (M, 3, crop, crop) and their offsets (M, 2) with those where ``flip`` (M,) holds
    mirrored (:func:`mirror_crops`): the training crops' left-right augmentation."""
    m_patches, m_offsets = mirror_crops(patches, offsets)
    return (torch.where(flip[:, None, None, None], m_patches, patches),
            torch.where(flip[:, None], m_offsets, offsets))  # fmt: skip


def batch_peaks(logits: torch.Tensor, k: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` strongest peaks of each heatmap (N, h, w): (N, k, 2) pixels and (N, k)
    log-probabilities, best first; an image with fewer maxima pads with ``-inf`` scores."""
    n = logits.shape[0]
    cands, scores = np.zeros((n, k, 2)), np.full((n, k), -np.inf)
    cells, logp = batch_heatmap_peaks(logits, k)
    found = torch.isfinite(logp).numpy()
    got = logp.shape[1]
    cands[:, :got][found] = cells.numpy()[found] * stride
    scores[:, :got][found] = logp.numpy()[found]
    return cands, scores


@dataclass
class Verifier:
    """A trained crop network and how its scores join the heatmap's."""

    model: CropNet
    config: VerifierConfig
    meta: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def alpha(self) -> float:
        """Weight of the heatmap log-probability next to the verifier logit."""
        return float(self.meta.get("alpha", 1.0))

    @property
    def peaks(self) -> int:
        """Heatmap peaks re-ranked per image at inference (chosen on validation; the
        training's ``k`` for checkpoints from before that choice)."""
        return int(self.meta.get("peaks", self.config.k))

    @property
    def flip(self) -> bool:
        """Whether the heatmap is averaged with its mirror image's (:mod:`flip_average`)."""
        return bool(self.meta.get("flip", False))

    @property
    def shift(self) -> bool:
        """Whether the heatmap is averaged over half-cell shifts (:mod:`shift_average`)."""
        return bool(self.meta.get("shift", False))

    def scores(self, images: torch.Tensor, cands: np.ndarray) -> np.ndarray:
        """Network outputs (N, K, 3) for the candidates (N, K, 2) of uint8 images (N, 3, H, W)."""
        n, k = cands.shape[:2]
        out = self.outputs(images, torch.arange(n).repeat_interleave(k), cands.reshape(-1, 2))
        return out.reshape(n, k, 3)

    @torch.no_grad()
    def outputs(self, images: torch.Tensor, rows: torch.Tensor, centres: np.ndarray
                ) -> np.ndarray:  # fmt: skip
        """Network outputs (M, 3) for crops of ``images[rows]`` (M,) around ``centres``
        (M, 2) pixels; each crop's outputs do not depend on the others'."""
        self.model.eval()
        x, _ = crops(pad_images(images, self.config.crop), rows, centres, self.config.crop)
        return crop_outputs(self.model, x).numpy().astype(np.float64)

    def shared_scores(self, images: torch.Tensor, cand_sets: list[np.ndarray]
                      ) -> list[np.ndarray]:  # fmt: skip
        """:meth:`scores` of each candidate set (N, K, 2) of the same images, every distinct
        crop computed once: sets found by the same heatmap averaged in other ways mostly
        round to the same pixels (a crop is centred on its candidate's rounded pixel)."""
        keys = []
        for cands in cand_sets:
            centre = np.rint(cands).astype(np.int64)
            rows = np.broadcast_to(np.arange(len(cands))[:, None, None], (*cands.shape[:2], 1))
            keys.append(np.concatenate([rows, centre], axis=2).reshape(-1, 3))
        unique, inverse = np.unique(np.concatenate(keys), axis=0, return_inverse=True)
        out = self.outputs(images, torch.as_tensor(unique[:, 0]), unique[:, 1:])
        parts = np.split(out[inverse.reshape(-1)], np.cumsum([len(k) for k in keys])[:-1])
        return [part.reshape(*cands.shape[:2], 3) for part, cands in zip(parts, cand_sets, strict=True)]

    def choose(self, images: torch.Tensor, cands: np.ndarray, logp: np.ndarray) -> np.ndarray:
        """The winning candidate of each image (N, 2) pixels under the settings chosen on
        validation (:func:`select` with this verifier's scores)."""
        return select(cands, logp, self.scores(images, cands), self.alpha,
                      bool(self.meta.get("refine", False)))  # fmt: skip


def select(cands: np.ndarray, logp: np.ndarray, out: np.ndarray, alpha: float,
           refine: bool) -> np.ndarray:  # fmt: skip
    """Each image's winner (N, 2) among candidates (N, K, 2): the best ``logit + alpha x
    logp`` of the verifier outputs ``out`` (N, K, 3) among those with a finite heatmap score,
    moved by its predicted offset from the crop's centre pixel when ``refine``."""
    found = np.isfinite(logp)
    total = np.where(found, out[..., 0] + alpha * np.where(found, logp, 0.0), -np.inf)
    pick = total.argmax(1)
    rows = np.arange(len(pick))
    chosen = cands[rows, pick]
    if refine:
        chosen = np.rint(chosen) + out[rows, pick, 1:]
    return chosen  # type: ignore[no-any-return]


@dataclass
class VerifiedLocalizer(Localizer):
    """A localizer whose ``k`` strongest peaks are re-ranked by a :class:`Verifier`."""

    verifier: Verifier = field(kw_only=True)

    @torch.no_grad()
    def pixels(self, images: torch.Tensor, exclude: np.ndarray | None = None,
               radius: float = 4.0) -> np.ndarray:  # fmt: skip
        """Projected object centres (N, 2) (see :meth:`Localizer.pixels`), each the
        verifier's pick among the heatmap's strongest peaks."""
        self.model.eval()
        s = self.model.stride
        out = []
        for i in range(0, len(images), INFERENCE_BATCH):
            batch = images[i : i + INFERENCE_BATCH]
            logits = exclude_cells(self.model(to_input(batch)), exclude, radius, s)
            cands, logp = batch_peaks(logits, self.verifier.peaks, s)
            out.append(self.verifier.choose(batch, cands, logp))
        return np.concatenate(out).astype(np.float64)

    @torch.no_grad()
    def peaks(self, image: torch.Tensor, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
        """The heatmap's ``k`` strongest peaks of one image, ordered by the verifier's
        combined score, with those scores (the verifier's logit + alpha x log-probability)."""
        pix, logp = super().peaks(image, k)
        out = self.verifier.scores(image, pix[None])[0]
        total = out[:, 0] + self.verifier.alpha * logp
        order = np.argsort(-total, kind="stable")
        return pix[order], total[order]


def check_goes_with(loc: Localizer, meta: dict[str, Any], names: tuple[str, str],
                    verb: str) -> None:  # fmt: skip
    """Refuse a helper checkpoint (its ``meta``) made for another object, env or image size
    than ``loc``, naming both (``names``: the localizer's and the helper's; ``verb``: what
    the helper does, "verifies")."""
    for key, what in (("object", "object"), ("env_id", "env"), ("image_size", "image size")):
        if loc.meta[key] != meta[key]:
            raise ValueError(f"{names[1]!r} {verb} the {what} {meta[key]!r}; "
                             f"{names[0]!r} has {loc.meta[key]!r}: they do not go together")  # fmt: skip


def verify(loc: Localizer, verifier: Verifier, names: tuple[str, str]) -> VerifiedLocalizer:
    """``loc`` with ``verifier`` re-ranking its peaks; object, env and image size must agree
    (``names``: the localizer's and the verifier's, for the error)."""
    check_goes_with(loc, verifier.meta, names, "verifies")
    meta = {**loc.meta, "verifier": names[1]}
    # it stands in for the HeatmapNet wherever only its heatmap is read (pixels, peaks)
    model = averaged(loc.model, verifier.flip, verifier.shift)
    return VerifiedLocalizer(model, loc.config, meta, loc.history, verifier=verifier)


def averaged(model: nn.Module, flip: bool, shift: bool) -> Any:
    """``model`` with test-time averaging over its mirror image (``flip``) and over
    half-cell shifts (``shift``), in eval mode; itself when neither."""
    if shift:
        model = ShiftAveraged(model)
    if flip:
        model = FlipAveraged(model)
    return model.eval() if flip or shift else model


def save_verifier(verifier: Verifier, path: str | Path) -> Path:
    """Write weights, settings and what the verifier assumes (atomic)."""
    return save_model_checkpoint(path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION,
                                 config=verifier.config, meta=verifier.meta,
                                 history=verifier.history, model=verifier.model)  # fmt: skip


def load_verifier(path: str | Path) -> Verifier:
    """Read a checkpoint of :func:`save_verifier` (``weights_only=True``)."""
    config, model, meta, history = load_model_checkpoint(
        path, fmt=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, what="verifier",
        train_hint=TRAIN_HINT, config_type=VerifierConfig, build=lambda c: CropNet(c.width),
    )  # fmt: skip
    return Verifier(cast(CropNet, model), config, meta, history)


def is_verifier_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a file tagged as a verifier checkpoint (anything else: False)."""
    return checkpoint_kind(path) == "verifier"
