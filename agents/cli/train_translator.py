"""Train the CUT-style image translator: randomized renders (exports) toward the look of a
folder of unlabelled target frames (scripts/collect_frames.py, or photos from your camera).

Writes the checkpoint (generator only; loads with torch.load(..., weights_only=True)) every
--sample-every steps and at the end, and CKPT_STEM_samples.png (rows: renders, their
translations, target frames).

Examples:
    python scripts/collect_frames.py --env domrand/Lift-v0 --preset target --num 200 --out runs/frames/target
    python scripts/train_translator.py --source data/lift_loc2 data/lift_occl --frames runs/frames/target --out runs/translator.pt --steps 2500 --threads 1
"""

from __future__ import annotations

import argparse
import sys

from agents.gan.translator import TranslatorConfig
from agents.gan.translator_train import TranslatorTraining, train_translator
from agents.outputs import OutputPathError, check_output_file


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--source", nargs="+", required=True,
                   help="export folder(s) of randomized renders (the look to translate from)")
    p.add_argument("--frames", required=True,
                   help="folder of unlabelled target frames (the look to translate to)")
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--steps", type=int, default=2500, help="generator updates")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-nce", type=float, default=1.0, help="PatchNCE weight (geometry)")
    p.add_argument("--keep", metavar="LOCALIZER",
                   help="localizer checkpoint trained on renders: its loss on the translations\n"
                   "(against the renders' labels) keeps the object in place (CyCADA-style)")
    p.add_argument("--lambda-keep", type=float, default=None,
                   help="weight of the --keep term (default 1 with --keep)")
    p.add_argument("--init", metavar="CKPT",
                   help="start from this translator's generator (same --size/--ngf/--blocks)")
    p.add_argument("--size", type=int, default=64, help="image side (px) of renders and frames")
    p.add_argument("--ngf", type=int, default=16, help="generator width")
    p.add_argument("--blocks", type=int, default=4, help="residual blocks")
    p.add_argument("--max-sources", type=int, default=4000, help="renders read from --source")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--sample-every", type=int, default=250, help="checkpoint + grid every K steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        if args.lambda_keep is not None and not args.keep:
            raise ValueError("--lambda-keep weighs the --keep localizer's loss; give --keep too")
        if args.blocks < 1:
            raise ValueError(f"--blocks must be >= 1, got {args.blocks}")
        layers = tuple(i for i in TranslatorConfig.nce_layers if i < 3 + args.blocks)
        config = TranslatorConfig(size=args.size, ngf=args.ngf, blocks=args.blocks,
                                  nce_layers=layers)
        train = TranslatorTraining(steps=args.steps, batch=args.batch, lr=args.lr,
                                   lambda_nce=args.lambda_nce, max_sources=args.max_sources,
                                   lambda_keep=(0.0 if not args.keep else 1.0
                                                if args.lambda_keep is None else args.lambda_keep),
                                   seed=args.seed, threads=args.threads,
                                   sample_every=args.sample_every)
        check_output_file(args.out, kind="translator", suffixes=(".pt",), force=args.force)
        result = train_translator(args.source, args.frames, args.out, config, train,
                                  progress=not args.quiet, keep=args.keep, init=args.init)
    except (ValueError, FileNotFoundError, OutputPathError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = result.losses[-1]
    print(f"trained {len(result.losses)} steps in {result.wall_s:.1f} s "
          f"({len(result.losses) / max(result.wall_s, 1e-9):.2f} steps/s); last losses: "
          f"D {last['d']:.3f}, GAN {last['gan']:.3f}, PatchNCE {last['nce']:.3f}")
    print(f"checkpoint  {result.checkpoint}")
    print(f"samples     {result.grid}")
    return 0
