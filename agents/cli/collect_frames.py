"""Collect unlabelled frames of a held-out domain: plain RGB PNGs, no labels, poses, params
or seeds, standing in for a handful of photos from the user's own camera (the appearance
GAN and the image translator learn the domain's look from them).

Examples:
    python scripts/collect_frames.py --env domrand/Lift-v0 --preset target --num 200 --out runs/frames/target
    python scripts/collect_frames.py --env domrand/Lift-v0 --preset target --num 200 --size 256 --out runs/frames/target256
"""

from __future__ import annotations

import argparse
import sys

import envs  # noqa: F401  # registers the domrand/* envs
from agents.cli.args import EnvIdAction, env_help
from agents.gan.frames import MAX_FRAMES, MIN_FRAMES, collect_frames
from agents.outputs import OutputPathError, check_output_dir
from envs.panda_env import MAX_IMAGE_SIZE
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Lift-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())
    p.add_argument("--preset", default="target",
                   help="the held-out domain: preset name or path to a .yaml preset")
    p.add_argument("--num", type=int, default=100,
                   help=f"frames to write, {MIN_FRAMES}..{MAX_FRAMES}")
    p.add_argument("--size", type=int, default=64, help="image side (px)")
    p.add_argument("--seed", type=int, default=1000,
                   help="run seed (keep it apart from the seeds of evaluation exports)")
    p.add_argument("--out", required=True, help="an empty (or new) folder for the PNGs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        if not 1 <= args.size <= MAX_IMAGE_SIZE:
            raise ValueError(f"--size must be 1..{MAX_IMAGE_SIZE} px, got {args.size}")
        if args.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {args.seed}")
        check_output_dir(args.out)
        paths = collect_frames(args.env, args.preset, args.out, num=args.num, size=args.size,
                               seed=args.seed, progress=not args.quiet)
    except (ValueError, PresetError, OutputPathError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} unlabelled {args.size} px frames of {args.env} "
          f"({args.preset}) to {args.out}")
    return 0
