"""Training of the appearance GAN on random crops of a folder of images.

Objective: hinge loss (Lim & Ye 2017) with a spectrally normalized discriminator (Miyato
et al. 2018) and a DCGAN generator; Adam, one discriminator step per generator step; an
exponential moving average of the generator's weights is what gets saved (sharper, less
noisy samples), with batch-norm statistics re-estimated for those weights at every save.
Same seed and thread count: same checkpoint bytes.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from agents.gan.checkpoint import save_checkpoint
from agents.gan.data import CropConfig, ImageCrops
from agents.gan.model import build
from agents.gan.plots import loss_curve
from randomizers.gan_generator import GANConfig, Generator, generate, latents
from randomizers.image_grid import image_grid


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Args:
        steps: generator updates (one discriminator update each).
        batch: crops per step.
        seed: initial weights, crops and latents.
        lr_g, lr_d: Adam learning rates; betas: Adam betas.
        ema: decay of the moving average of generator weights.
        sample_every: write a sample grid, the loss curve and the checkpoint every K steps.
        threads: torch CPU threads (``None``: leave torch's setting).
        device: torch device to train on (``cpu``; ``cuda`` where a GPU exists).
    """

    steps: int = 3000
    batch: int = 32
    seed: int = 0
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    ema: float = 0.999
    sample_every: int = 500
    threads: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got "
                             f"{self.device!r}") from None  # fmt: skip
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} is not available here (torch sees no CUDA "
                             f"GPU); use --device cpu")  # fmt: skip
        for name in ("steps", "batch", "sample_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.batch < 2:
            raise ValueError(f"batch must be >= 2 (batch norm), got {self.batch}")
        if not (0 < self.lr_g < 1 and 0 < self.lr_d < 1):
            raise ValueError(f"learning rates must be in (0, 1), got {self.lr_g}, {self.lr_d}")
        if not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"Adam betas must be in [0, 1), got {self.betas}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")


@dataclass
class TrainResult:
    """What a run wrote and how long it took."""

    checkpoint: Path
    steps: int
    wall_s: float
    losses: dict[str, list[float]]
    cpu_s: float = 0.0  # process CPU time: the cost without other jobs on the machine
    grids: list[Path] = field(default_factory=list)
    loss_plot: Path | None = None


def standing_stats(generator: Generator, seed: int, batches: int = 8, batch: int = 64) -> None:
    """Re-estimate batch-norm statistics for the current weights (cumulative average over
    ``batches`` random batches), then switch to eval mode."""
    norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    g = torch.Generator().manual_seed(seed)
    device = next(generator.parameters()).device
    generator.train()
    with torch.no_grad():
        for _ in range(batches):
            generator(torch.randn(batch, generator.config.z_dim, generator=g).to(device))
    for m in norms:
        m.momentum = 0.1
    generator.eval()


def artifact_paths(checkpoint: Path) -> tuple[Path, Path]:
    """Where a run writes its sample grids (``{stem}_samples/``) and loss curve."""
    return checkpoint.with_name(f"{checkpoint.stem}_samples"), checkpoint.with_name(
        f"{checkpoint.stem}_losses.png"
    )


def train_gan(
    images: str | Path,
    out: str | Path,
    model: GANConfig | None = None,
    crops: CropConfig | None = None,
    config: TrainConfig | None = None,
    progress: bool = True,
    on_save: Callable[[int, Path], None] | None = None,
) -> TrainResult:
    """Train on random crops of ``images`` (a folder) and save the checkpoint to ``out``;
    writes sample grids and the loss curve next to it."""
    model = model or GANConfig()
    crops = crops or CropConfig(size=model.size)
    config = config or TrainConfig()
    if crops.size != model.size:
        raise ValueError(f"crop size {crops.size} differs from the model size {model.size}")
    data = ImageCrops(images, crops, split="train")
    out = Path(out).expanduser()
    grid_dir, plot_path = artifact_paths(out)
    grid_dir.mkdir(parents=True, exist_ok=True)
    threads_before = torch.get_num_threads()
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    try:
        return _loop(data, out, model, crops, config, grid_dir, plot_path, progress, on_save)
    finally:
        torch.set_num_threads(threads_before)


def _loop(
    data: ImageCrops, out: Path, model: GANConfig, crops: CropConfig, config: TrainConfig,
    grid_dir: Path, plot_path: Path, progress: bool,
    on_save: Callable[[int, Path], None] | None,
) -> TrainResult:  # fmt: skip
    dev = torch.device(config.device)
    g, d = build(model, config.seed)
    g, d = g.to(dev), d.to(dev)
    g_ema = copy.deepcopy(g)
    opt_g = torch.optim.Adam(g.parameters(), config.lr_g, betas=config.betas)
    opt_d = torch.optim.Adam(d.parameters(), config.lr_d, betas=config.betas)
    rng = np.random.default_rng([config.seed, 1])
    gz = torch.Generator().manual_seed(config.seed + 2)
    fixed_z = latents([config.seed, 3], 64, model.z_dim)
    losses: dict[str, list[float]] = {"discriminator": [], "generator": []}
    result = TrainResult(out, 0, 0.0, losses)
    start, cpu_start = time.perf_counter(), time.process_time()
    bar = tqdm(total=config.steps, unit="step", desc="GAN", disable=not progress,
               dynamic_ncols=True)  # fmt: skip
    for step in range(1, config.steps + 1):
        real = data.sample(config.batch, rng).to(dev)
        fake = g(torch.randn(config.batch, model.z_dim, generator=gz).to(dev))
        d_loss = F.relu(1 - d(real)).mean() + F.relu(1 + d(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        d.requires_grad_(False)
        g_loss = -d(fake).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        d.requires_grad_(True)
        decay = min(config.ema, (1 + step) / (10 + step))  # warm-up: early averages follow g
        with torch.no_grad():
            for pe, p in zip(g_ema.parameters(), g.parameters(), strict=True):
                pe.lerp_(p, 1 - decay)
        losses["discriminator"].append(float(d_loss.detach()))
        losses["generator"].append(float(g_loss.detach()))
        bar.update(1)
        if step % 10 == 0 or step == config.steps:
            bar.set_postfix(d=f"{np.mean(losses['discriminator'][-50:]):.3f}",
                            g=f"{np.mean(losses['generator'][-50:]):.3f}")  # fmt: skip
        if step % config.sample_every == 0 or step == config.steps:
            standing_stats(g_ema, config.seed)
            result.wall_s = time.perf_counter() - start
            result.cpu_s = time.process_time() - cpu_start
            result.steps = step
            meta: dict[str, Any] = {
                "crops": {**asdict(crops), "scale": list(crops.scale)},
                "train": {**asdict(config), "betas": list(config.betas)},
                "images": [p.name for p in data.paths],
                "step": step,
                "wall_s": result.wall_s,
                "cpu_s": result.cpu_s,
                "losses": {k: list(v) for k, v in losses.items()},
            }
            snapshot = copy.deepcopy(g_ema).cpu()
            save_checkpoint(out, snapshot, d, meta)
            grid = grid_dir / f"step_{step:06d}.png"
            image_grid(generate(snapshot, fixed_z)).save(grid)
            result.grids.append(grid)
            loss_curve(losses, window=max(1, min(50, step // 10))).save(plot_path)
            result.loss_plot = plot_path
            if on_save is not None:
                on_save(step, out)
    bar.close()
    return result


__all__ = ["TrainConfig", "TrainResult", "artifact_paths", "standing_stats", "train_gan"]
