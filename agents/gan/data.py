"""Training data of the appearance GAN: random square crops and flips of every image in a
folder, with a held-out strip of each image kept for evaluation.

Each image is split along its longer axis: the first ``1 - holdout`` of it is the train
split, the rest the held-out split, so held-out crops are pixels the GAN never saw but
come from the same photos at the same scales. A crop's side is a uniform fraction
(``scale``) of the image's short edge, so both splits draw crops of the same scales.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from randomizers.gan_generator import to_uint8
from randomizers.texture_sources import IMAGE_EXTENSIONS, list_images, load_image

SPLITS = ("train", "heldout")

# scikit-image photographs that the `target` preset does NOT use (it uses brick, grass,
# gravel, coffee, rocket, chelsea, astronaut, colorwheel, hubble_deep_field,
# immunohistochemistry, retina, cell), so a GAN trained on these never sees the target domain.
DEMO_PHOTOS = ("motorcycle_left", "motorcycle_right", "camera", "coins", "moon", "clock")


@dataclass(frozen=True)
class CropConfig:
    """How crops are drawn.

    Args:
        size: output side in pixels.
        scale: (low, high) crop side as a fraction of the image's short edge.
        holdout: fraction of each image (along its longer axis) kept out of training.
        rows: (top, bottom) band of each image, as fractions of its height, that crops come
            from (e.g. the table in camera frames, without the wall behind it).
    """

    size: int = 64
    scale: tuple[float, float] = (0.08, 0.25)
    holdout: float = 0.25
    rows: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"crop scale must satisfy 0 < low <= high <= 1, got {self.scale!r}")
        top, bottom = self.rows
        if not 0 <= top < bottom <= 1:
            raise ValueError(f"rows must satisfy 0 <= top < bottom <= 1, got {self.rows!r}")
        if not 0 <= self.holdout < 1:
            raise ValueError(f"holdout must be in [0, 1), got {self.holdout!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 4:
            raise ValueError(f"crop size must be an int >= 4, got {self.size!r}")


def _region(image: np.ndarray, split: str, holdout: float) -> np.ndarray:
    """The part of ``image`` that belongs to ``split`` (all of it when ``holdout`` is 0)."""
    h, w = image.shape[:2]
    long = max(h, w)
    cut = long - max(1, round(long * holdout)) if holdout > 0 else long
    if split == "train":
        return image[:cut] if h > w else image[:, :cut]
    return image[cut:] if h > w else image[:, cut:]


class ImageCrops:
    """Random crops of the images in ``folder`` (one split of each), as tensors or uint8.

    Raises ``FileNotFoundError`` naming the folder and the extensions looked for when it
    holds no readable image.
    """

    def __init__(self, folder: str | Path, config: CropConfig, split: str = "train") -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if split == "heldout" and config.holdout <= 0:
            raise ValueError("no held-out split: these crops were configured with holdout = 0")
        self.folder, self.config, self.split = Path(folder).expanduser(), config, split
        self.paths: list[Path] = []
        self.images: list[torch.Tensor] = []
        self.short_edges: list[int] = []
        unreadable: list[str] = []
        for path in list_images(self.folder):
            try:
                image = load_image(path)
            except OSError:
                unreadable.append(path.name)
                continue
            h = image.shape[0]
            top, bottom = config.rows
            image = image[int(round(top * h)) : max(int(round(bottom * h)), int(round(top * h)) + 1)]
            region = _region(image, split, config.holdout)
            self.paths.append(path)
            self.short_edges.append(min(image.shape[:2]))
            self.images.append(torch.from_numpy(np.ascontiguousarray(region)).permute(2, 0, 1))
        if not self.images:
            raise FileNotFoundError(
                f"no readable images in {str(self.folder)!r} (unreadable: {', '.join(unreadable)}); "
                f"looked for files ending in {', '.join(IMAGE_EXTENSIONS)}"
            )

    def sample(self, n: int, rng: np.random.Generator) -> torch.Tensor:
        """``n`` crops as a float tensor (n, 3, size, size) in [-1, 1]."""
        size, (lo, hi) = self.config.size, self.config.scale
        which = rng.integers(len(self.images), size=n)
        fractions = rng.uniform(lo, hi, size=n)
        u = rng.random((n, 2))
        flips = rng.random((n, 2)) < 0.5
        out = torch.empty(n, 3, size, size)
        for k in range(n):
            img = self.images[int(which[k])]
            h, w = img.shape[1:]
            side = int(np.clip(round(fractions[k] * self.short_edges[int(which[k])]), 2, min(h, w)))
            y, x = int(u[k, 0] * (h - side + 1)), int(u[k, 1] * (w - side + 1))
            crop = img[None, :, y : y + side, x : x + side].float()
            crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=side > size,
                                 align_corners=False)[0]  # fmt: skip
            if flips[k, 0]:
                crop = crop.flip(2)
            if flips[k, 1]:
                crop = crop.flip(1)
            out[k] = crop
        return (out / 127.5 - 1.0).clamp_(-1.0, 1.0)

    def sample_uint8(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` crops as (n, size, size, 3) uint8."""
        return to_uint8(self.sample(n, rng))


def write_demo_photos(out: str | Path, names: tuple[str, ...] = DEMO_PHOTOS) -> list[Path]:
    """Write scikit-image photographs (full resolution, RGB PNG) into ``out``; needs
    scikit-image (``pip install scikit-image``)."""
    try:
        from skimage import data
    except ImportError as exc:
        raise ImportError("writing the demo photos needs scikit-image: pip install scikit-image") from exc
    from PIL import Image

    folder = Path(out).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        if name in ("motorcycle_left", "motorcycle_right"):
            left, right, _ = data.stereo_motorcycle()
            image = left if name.endswith("left") else right
        elif callable(getattr(data, name, None)) and not name.startswith("_"):
            image = getattr(data, name)()
        else:
            raise ValueError(f"unknown scikit-image photo {name!r}; try {', '.join(DEMO_PHOTOS)}")
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        path = folder / f"{name}.png"
        Image.fromarray(image[..., :3].astype(np.uint8)).save(path)
        written.append(path)
    return written


__all__ = ["DEMO_PHOTOS", "SPLITS", "CropConfig", "ImageCrops", "write_demo_photos"]
