"""Write a grid of randomized frames (one per seed, labelled) for a preset, or a contact
sheet (masks and boxes drawn on) of an exported dataset.

Examples:
    python scripts/preview.py --env domrand/Push-v0 --preset tobin --num 16 --out tobin.png
    python scripts/preview.py --dataset datasets/push_tobin --num 16 --out sheet.png
    python scripts/preview.py --dataset datasets/push_tobin --num 16 --rerun-save push.rrd
        (or --rerun: a spawned viewer; needs pip install 'domrand[viz]')
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

from agents.cli.args import EnvIdAction, env_help
from envs.dataset.sheets import contact_sheet
from envs.panda_env import MAX_IMAGE_SIZE
from envs.preview import preview_grid
from randomizers.errors import PresetError

MAX_NUM = 1024  # frames in one grid (each one is a reset and a render)


def _check(args: argparse.Namespace) -> None:
    """Argument errors, before any env is built or dataset read."""
    if not 1 <= args.num <= MAX_NUM:
        raise ValueError(f"--num must be 1..{MAX_NUM}, got {args.num}")
    if not args.dataset and not 1 <= args.size <= MAX_IMAGE_SIZE:
        raise ValueError(f"--size must be 1..{MAX_IMAGE_SIZE} px, got {args.size}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    out = Path(args.out)
    if out.is_dir():
        raise ValueError(f"--out {args.out!r} is a folder; give a file name such as preview.png")
    if not out.absolute().parent.is_dir():
        raise ValueError(
            f"--out {args.out!r}: folder {str(out.absolute().parent)!r} does not exist; "
            "create it first"
        )
    extensions = sorted(e for e, f in Image.registered_extensions().items() if f in _SAVABLE)
    if out.suffix.lower() not in extensions:
        raise ValueError(
            f"--out {args.out!r}: unknown image extension {out.suffix!r}; allowed: "
            f"{', '.join(extensions)}"
        )


_SAVABLE = ("PNG", "JPEG", "BMP", "TIFF", "WEBP")


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Push-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--preset", default="tobin", help="preset name or path to a .yaml preset")
    p.add_argument("--num", type=int, default=16, help="number of frames")
    p.add_argument("--size", type=int, default=128, help="frame size (px)")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument("--dataset", default=None, help="an exported dataset folder instead")
    p.add_argument("--out", default="preview.png", help="output PNG")
    p.add_argument(
        "--rerun",
        action="store_true",
        help="with --dataset: show the samples in a spawned Rerun viewer instead",
    )
    p.add_argument(
        "--rerun-save",
        default=None,
        metavar="FILE.rrd",
        help="with --dataset: save the samples as a Rerun recording instead",
    )
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        if args.rerun or args.rerun_save:
            return _rerun(args)
        _check(args)
        if args.dataset:
            grid = contact_sheet(args.dataset, num=args.num)
        else:
            grid = preview_grid(args.env, args.preset, num=args.num, size=args.size, seed=args.seed)
        grid.save(args.out)
    except (PresetError, ValueError, OSError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    what = args.dataset or f"{args.env} with preset {args.preset!r}"
    print(f"wrote {args.out} ({args.num} frames of {what})")
    return 0


def _rerun(args: argparse.Namespace) -> int:
    """``--dataset DIR --rerun/--rerun-save``: log the export's samples to Rerun."""
    from agents.viz.rerun_log import check_rrd_path, import_rerun, log_export, open_recording

    if not args.dataset:
        raise ValueError("--rerun/--rerun-save show an exported dataset; give --dataset DIR")
    if not 1 <= args.num <= MAX_NUM:
        raise ValueError(f"--num must be 1..{MAX_NUM}, got {args.num}")
    import_rerun()
    check_rrd_path(args.rerun_save)
    if not Path(args.dataset, "labels").is_dir():
        raise ValueError(f"--dataset {args.dataset!r} has no labels/ folder; give an export folder")
    rec = open_recording(save=args.rerun_save, spawn=args.rerun, name=f"domrand {args.dataset}")
    n = log_export(rec, args.dataset, args.num)
    rec.flush()
    where = args.rerun_save or "the Rerun viewer"
    print(f"logged {n} samples of {args.dataset} to {where}")
    return 0
