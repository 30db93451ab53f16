"""Train the appearance GAN on random crops and flips of a folder of images (CPU).

Writes the checkpoint (loads with torch.load(..., weights_only=True)), a grid of samples
every --sample-every steps in CKPT_STEM_samples/ and the loss curve CKPT_STEM_losses.png.

Examples:
    python scripts/gan_photos.py --out runs/gan/photos
    python scripts/train_gan.py --images runs/gan/photos --out runs/gan/photos64.pt --steps 3000
"""

from __future__ import annotations

import argparse
import sys

from agents.gan.data import CropConfig
from agents.gan.train import TrainConfig, train_gan
from agents.outputs import check_output_file
from randomizers.gan_generator import SIZES, UPSAMPLING, GANConfig


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--images", required=True, help="folder of training images")
    p.add_argument("--out", required=True,
                   help="checkpoint path (.pt); an existing GAN checkpoint there is replaced,\n"
                   "any other existing file is kept unless --force")
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--steps", type=int, default=3000, help="generator updates")
    p.add_argument("--size", type=int, default=64, choices=SIZES, help="texture side (px)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--sample-every", type=int, default=500, help="grid + checkpoint every K steps")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--z-dim", type=int, default=64)
    p.add_argument("--g-channels", type=int, default=128, help="generator width at 4x4")
    p.add_argument("--d-channels", type=int, default=32, help="discriminator first-layer width")
    p.add_argument("--d-depth", type=int, default=1, choices=(1, 2),
                   help="discriminator convolutions per resolution (2: SNGAN's standard CNN)")
    p.add_argument("--upsample", default="transposed", choices=UPSAMPLING,
                   help="generator upsampling (nearest: no checkerboard artifacts)")
    p.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    p.add_argument("--crop-scale", type=float, nargs=2, default=(0.08, 0.25),
                   metavar=("LOW", "HIGH"), help="crop side as a fraction of the short edge")
    p.add_argument("--rows", type=float, nargs=2, default=(0.0, 1.0), metavar=("TOP", "BOTTOM"),
                   help="crop only from this band of each image (fractions of its height),\n"
                   "e.g. 0.4 1.0: the table in camera frames, not the wall behind it")
    p.add_argument("--holdout", type=float, default=0.25,
                   help="fraction of each image kept out of training (for gan_quality.py)")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate (both nets)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        model = GANConfig(size=args.size, z_dim=args.z_dim, g_channels=args.g_channels,
                          d_channels=args.d_channels, d_depth=args.d_depth,
                          upsample=args.upsample)
        crops = CropConfig(size=args.size, scale=tuple(args.crop_scale), holdout=args.holdout,
                           rows=tuple(args.rows))
        config = TrainConfig(steps=args.steps, batch=args.batch, seed=args.seed,
                             lr_g=args.lr, lr_d=args.lr, sample_every=args.sample_every,
                             threads=args.threads, device=args.device)
        check_output_file(args.out, kind="gan", suffixes=(".pt",), force=args.force)
        result = train_gan(args.images, args.out, model, crops, config, progress=not args.quiet)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = result.grids[-1] if result.grids else None
    print(f"trained {result.steps} steps in {result.wall_s:.1f} s wall, {result.cpu_s:.1f} s CPU "
          f"({result.steps / max(result.wall_s, 1e-9):.2f} steps/s)")
    print(f"checkpoint  {result.checkpoint}")
    print(f"samples     {last}")
    print(f"loss curve  {result.loss_plot}")
    return 0

