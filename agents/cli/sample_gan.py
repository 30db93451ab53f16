"""Write N textures from a trained appearance GAN as PNG files (and a grid of them).

The same checkpoint and --seed give the same bytes.

Example:
    python scripts/sample_gan.py --model runs/gan/photos64.pt --num 64 --out runs/gan/textures
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from agents.outputs import OutputPathError, check_output_dir
from randomizers.gan_generator import GanCheckpointError, load_generator, sample_textures
from randomizers.image_grid import image_grid


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", required=True, help="checkpoint written by train_gan.py")
    p.add_argument("--num", type=int, default=64, help="number of textures")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--grid", action="store_true", help="also write grid.png (8 per row)")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    if args.num < 1:
        print(f"error: --num must be >= 1, got {args.num}", file=sys.stderr)
        return 2
    try:
        check_output_dir(args.out)
        textures = sample_textures(load_generator(args.model), args.num, seed=args.seed)
    except (FileNotFoundError, GanCheckpointError, OutputPathError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for i, texture in enumerate(tqdm(textures, unit="png", desc="write")):
        Image.fromarray(texture).save(out / f"{i:06d}.png")
    if args.grid:
        image_grid(textures, cols=min(8, args.num)).save(out / "grid.png")
    print(f"wrote {args.num} textures of {textures.shape[1]} px to {out}")
    return 0

