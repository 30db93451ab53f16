"""Score a trained appearance GAN against held-out real crops, next to two baselines:
the procedural textures and real crops from the train split (the floor).

KID x1000 on features of a fixed random-weight CNN, colour W1 (grey levels) and gradient
W1; lower is closer to the held-out photos. --images must be the folder the GAN was
trained on (the held-out strip of each image was never trained on).

Example:
    python scripts/gan_quality.py --model runs/gan/photos64.pt --images runs/gan/photos
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from agents.gan.metrics import MIN_NUM, format_report, quality_report
from randomizers.gan_generator import GanCheckpointError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", required=True, help="checkpoint written by train_gan.py")
    p.add_argument("--images", required=True, help="the folder the GAN was trained on")
    p.add_argument("--num", type=int, default=1000,
                   help=f"textures per set (at least {MIN_NUM})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        rows = quality_report(args.model, args.images, num=args.num, seed=args.seed)
    except (FileNotFoundError, GanCheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps([asdict(r) for r in rows], indent=2) if args.json else format_report(rows))
    return 0

