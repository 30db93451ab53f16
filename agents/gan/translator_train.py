"""Training of the CUT-style translator: randomized renders (an export) toward the look of
a folder of unlabelled target frames.

Losses (CUT's defaults): least-squares GAN loss on a PatchGAN discriminator, PatchNCE
between each render and its translation (geometry kept), and identity PatchNCE on the
target frames (a frame that already has the look passes through unchanged). Adam, a learning
rate that decays linearly to zero over the second half. Both domains see random flips and
shifts of up to 4 px, so the discriminator cannot memorize a few hundred frames by position.
Same seed and thread count: same checkpoint bytes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from agents.gan.even_draw import EvenDraw
from agents.gan.frames import load_frames
from agents.gan.keep_loss import LabelledRenders, frozen, keep_loss, labelled_renders
from agents.gan.translator import (
    PatchDiscriminator,
    PatchProjector,
    Translator,
    TranslatorConfig,
    TranslatorNet,
    load_translator,
    patch_nce,
    save_translator,
    to_net,
)
from agents.perception.localizer import Localizer, load_localizer
from randomizers.image_grid import image_grid
from randomizers.texture_sources import list_images


@dataclass(frozen=True)
class TranslatorTraining:
    """Optimisation settings.

    Args:
        steps: generator updates (one discriminator update each).
        batch: renders and frames per step.
        lr: Adam learning rate of all three networks.
        lambda_nce: weight of the PatchNCE terms against the GAN term.
        lambda_keep: weight of the semantic-consistency term (needs a ``keep`` localizer):
            the frozen localizer's loss on translations against the renders' labels.
        max_sources: renders read from the exports (spread evenly over them).
        seed: weights, batches and augmentations.
        threads: torch CPU threads (``None``: leave torch's setting).
        sample_every: checkpoint and sample grid every K steps.
    """

    steps: int = 3000
    batch: int = 8
    lr: float = 2e-4
    lambda_nce: float = 1.0
    lambda_keep: float = 0.0
    max_sources: int = 4000
    seed: int = 0
    threads: int | None = None
    sample_every: int = 500

    def __post_init__(self) -> None:
        for name in ("steps", "batch", "max_sources", "sample_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
        if self.lambda_nce < 0 or self.lambda_keep < 0:
            raise ValueError(f"lambda_nce and lambda_keep must be >= 0, got {self.lambda_nce}, "
                             f"{self.lambda_keep}")  # fmt: skip


@dataclass
class TranslatorResult:
    """What a training run wrote and how long it took."""

    checkpoint: Path
    grid: Path
    losses: list[dict[str, float]] = field(default_factory=list)
    wall_s: float = 0.0


def export_images(roots: list[str | Path], limit: int, size: int, seed: int = 0) -> np.ndarray:
    """Up to ``limit`` RGB images (uint8, N, S, S, 3) drawn evenly from export folders (their
    ``rgb/``; another image size is refused naming both sizes) or plain image folders
    (resized to ``size``: e.g. target frames, to translate them toward renders)."""
    draw = EvenDraw(roots, limit, seed)
    images: list[np.ndarray] = []
    for root in roots:
        export = (Path(root) / "rgb").is_dir()
        paths = sorted((Path(root) / "rgb").glob("*.png")) if export else list_images(root)
        if not paths:
            raise FileNotFoundError(f"{str(root)!r} has no rgb/*.png and no images: give an "
                                    f"export folder (scripts/export_dataset.py --out) or a "
                                    f"folder of images")  # fmt: skip
        for i in draw.indices(len(paths)):
            with Image.open(paths[i]) as im:
                image = np.asarray(im.convert("RGB"))
            if not export:
                image = resized(image[None], size)[0]
            elif image.shape[:2] != (size, size):
                raise ValueError(f"{str(paths[i])!r} is {image.shape[1]}x{image.shape[0]} px; the "
                                 f"translator is trained at {size} px (export with --size {size})")
            images.append(image)
    return np.stack(images[:limit])


def resized(frames: np.ndarray, size: int) -> np.ndarray:
    """Frames resized (Lanczos) to ``size`` x ``size`` px, as a user's photos would be."""
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.Resampling.LANCZOS))
                     for f in frames])  # fmt: skip


def _augment(x: torch.Tensor, gen: torch.Generator, shift: int = 4) -> torch.Tensor:
    """Random horizontal flips and shifts of up to ``shift`` px (reflect padding)."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (shift,) * 4, mode="reflect")
    dx, dy = torch.randint(0, 2 * shift + 1, (2, n), generator=gen).tolist()
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def _batch(pool: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
    idx = torch.randint(0, len(pool), (n,), generator=gen)
    return _augment(to_net(pool[idx]), gen)


def _nce(net: TranslatorNet, proj: PatchProjector, src: torch.Tensor, out: torch.Tensor,
         config: TranslatorConfig, gen: torch.Generator) -> torch.Tensor:  # fmt: skip
    """Mean PatchNCE over the compared layers between ``src`` and its translation ``out``."""
    layers = config.nce_layers
    feat_k, feat_q = net.features(src, layers), net.features(out, layers)
    ids = [torch.randperm(f.shape[2] * f.shape[3], generator=gen)[: config.patches] for f in feat_k]
    keys, queries = proj(feat_k, ids), proj(feat_q, ids)
    return torch.stack([patch_nce(q, k, config.nce_t) for q, k in zip(queries, keys, strict=True)]).mean()


def train_translator(sources: list[str | Path], frames_dir: str | Path, out: str | Path,
                     config: TranslatorConfig, train: TranslatorTraining,
                     progress: bool = True, keep: str | Path | None = None,
                     init: str | Path | None = None) -> TranslatorResult:  # fmt: skip
    """Train on images from ``sources`` (exports, or plain image folders) toward the look of
    the frames in ``frames_dir``; write
    the checkpoint to ``out`` every ``sample_every`` steps and at the end, a sample grid
    (renders, translations, frames) and the loss history in the checkpoint's meta.
    ``keep``: a localizer checkpoint (trained on renders) whose loss on the translations,
    weighted by ``lambda_keep``, keeps the object where the renders' labels put it.
    ``init``: a translator checkpoint of the same config whose generator weights to start
    from (the discriminator and projection heads start fresh)."""
    if (keep is None) != (train.lambda_keep == 0):
        raise ValueError("lambda_keep > 0 and a keep localizer go together (got "
                         f"lambda_keep={train.lambda_keep}, keep={keep!r})")  # fmt: skip
    raw = load_frames(frames_dir)
    frames = resized(raw, config.size)
    if keep is not None:
        loc = frozen(load_localizer(keep))
        if loc.image_size != config.size:
            raise ValueError(f"the keep localizer {str(keep)!r} reads {loc.image_size} px "
                             f"images; the translator works at {config.size} px")  # fmt: skip
        labels = labelled_renders(sources, train.max_sources, config.size, loc.meta["object"],
                                  train.seed)  # fmt: skip
        renders = labels.images
        keeper = (loc, labels)
    else:
        renders = export_images(sources, train.max_sources, config.size, train.seed)
        keeper = None
    meta: dict[str, Any] = {
        "frames": str(frames_dir), "num_frames": len(frames), "frame_size": list(raw.shape[1:3]),
        "sources": [str(s) for s in sources], "num_renders": len(renders),
        "init": None if init is None else str(init), "training": asdict(train),
        "keep": None if keeper is None else keeper[0].meta.get("object"),
    }  # fmt: skip
    threads = torch.get_num_threads()
    try:
        if train.threads:
            torch.set_num_threads(train.threads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(train.seed)
            weights = None if init is None else _init_weights(init, config)
            return _train(renders, frames, Path(out), config, train, progress, keeper, weights,
                          meta)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def _init_weights(path: str | Path, config: TranslatorConfig) -> dict[str, torch.Tensor]:
    """The generator weights of the translator at ``path``; another config is refused."""
    start = load_translator(path)
    if start.config != config:
        raise ValueError(f"cannot start from {str(path)!r}: it was trained with "
                         f"{start.config.to_dict()}, this training has {config.to_dict()}")  # fmt: skip
    return start.net.state_dict()


def _train(renders: np.ndarray, frames: np.ndarray, out: Path, config: TranslatorConfig,
           train: TranslatorTraining, progress: bool,
           keeper: tuple[Localizer, LabelledRenders] | None,
           weights: dict[str, torch.Tensor] | None, meta: dict[str, Any]) -> TranslatorResult:  # fmt: skip
    """The training loop of :func:`train_translator` (torch's global RNG already forked);
    ``meta`` is saved with every checkpoint, with the steps and losses so far."""
    gen = torch.Generator().manual_seed(train.seed)
    net, disc = TranslatorNet(config), PatchDiscriminator(config)
    if weights is not None:
        net.load_state_dict(weights)
    proj = PatchProjector([net.channels[i] for i in config.nce_layers])
    opt_g = torch.optim.Adam([*net.parameters(), *proj.parameters()], train.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), train.lr, betas=(0.5, 0.999))
    half = train.steps // 2
    decay = lambda s: 1.0 if s < half else max(0.0, 1.0 - (s - half) / max(1, train.steps - half))  # noqa: E731
    scheds = [torch.optim.lr_scheduler.LambdaLR(o, decay) for o in (opt_g, opt_d)]
    pool_x, pool_y = torch.from_numpy(renders), torch.from_numpy(frames)
    grid_path = out.with_name(out.stem + "_samples.png")
    losses: list[dict[str, float]] = []
    start = time.perf_counter()
    bar = tqdm(range(train.steps), desc="translator", unit="step", disable=not progress)
    for step in bar:
        net.train()
        if keeper is None:
            x = _batch(pool_x, train.batch, gen)
        else:  # no flips or shifts: the renders' labels must stay valid
            idx = torch.randint(0, len(pool_x), (train.batch,), generator=gen)
            x = to_net(pool_x[idx])
        y = _batch(pool_y, train.batch, gen)
        fake_xy = net(torch.cat([x, y]))
        fake, idt = fake_xy[: len(x)], fake_xy[len(x) :]
        d_real, d_fake = disc(y), disc(fake.detach())
        loss_d = 0.5 * (F.mse_loss(d_real, torch.ones_like(d_real))
                        + F.mse_loss(d_fake, torch.zeros_like(d_fake)))  # fmt: skip
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        g_score = disc(fake)
        loss_gan = F.mse_loss(g_score, torch.ones_like(g_score))
        nce = _nce(net, proj, x, fake, config, gen)
        nce_idt = _nce(net, proj, y, idt, config, gen)
        loss_g = loss_gan + train.lambda_nce * 0.5 * (nce + nce_idt)
        kept = torch.zeros(())
        if keeper is not None:
            loc, labels = keeper
            kept = keep_loss(loc, fake, labels.pixels[idx], labels.masks[idx])
            loss_g = loss_g + train.lambda_keep * kept
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        for s in scheds:
            s.step()
        losses.append({"step": step + 1, "d": loss_d.item(), "gan": loss_gan.item(),
                       "nce": nce.item(), "nce_idt": nce_idt.item(), "keep": kept.item()})  # fmt: skip
        if progress:
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_gan.item():.3f}", nce=f"{nce.item():.2f}")
        if (step + 1) % train.sample_every == 0 or step + 1 == train.steps:
            meta.update(steps=step + 1, losses=losses)
            save_translator(out, net, config, meta)
            _sample_grid(Translator(net, config), renders[:8], frames[:8], grid_path)
    return TranslatorResult(out, grid_path, losses, time.perf_counter() - start)


def _sample_grid(translator: Translator, renders: np.ndarray, frames: np.ndarray,
                 path: Path) -> None:  # fmt: skip
    """Rows: renders, their translations, target frames."""
    image_grid([*renders, *translator(renders), *frames], cols=len(renders)).save(path)


__all__ = ["TranslatorResult", "TranslatorTraining", "export_images", "resized", "train_translator"]
