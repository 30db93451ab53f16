#!/usr/bin/env python
"""Write a grid of randomized frames (one per seed, labelled) for a preset, or a contact
sheet (masks and boxes drawn on) of an exported dataset.

Examples:
    python scripts/preview.py --env domrand/Push-v0 --preset tobin --num 16 --out tobin.png
    python scripts/preview.py --dataset datasets/push_tobin --num 16 --out sheet.png
"""

from __future__ import annotations

import argparse
import sys

from envs import ENV_IDS
from envs.contact_sheet import contact_sheet
from randomizers.errors import PresetError
from randomizers.preview import preview_grid


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="domrand/Push-v0", choices=ENV_IDS)
    p.add_argument("--preset", default="tobin", help="preset name or path to a .yaml preset")
    p.add_argument("--num", type=int, default=16, help="number of frames")
    p.add_argument("--size", type=int, default=128, help="frame size (px)")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--dataset", default=None, help="an exported dataset folder instead")
    p.add_argument("--out", default="preview.png", help="output PNG")
    args = p.parse_args(argv)
    try:
        if args.dataset:
            grid = contact_sheet(args.dataset, num=args.num)
        else:
            grid = preview_grid(args.env, args.preset, num=args.num, size=args.size, seed=args.seed)
    except (PresetError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    grid.save(args.out)
    what = args.dataset or f"{args.env} with preset {args.preset!r}"
    print(f"wrote {args.out} ({args.num} frames of {what})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
