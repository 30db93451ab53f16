"""Write the demo training photos for the appearance GAN: scikit-image photographs that the
`target` preset does not use (the stereo motorcycle pair, camera, coins, moon, clock).

Example:
    python scripts/gan_photos.py --out runs/gan/photos
"""

from __future__ import annotations

import argparse
import sys

from agents.gan.data import DEMO_PHOTOS, write_demo_photos
from agents.outputs import check_output_dir


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--out", default="runs/gan/photos", help="folder to write PNGs into")
    p.add_argument("--names", nargs="*", default=list(DEMO_PHOTOS), help="which photos")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        check_output_dir(args.out)
        paths = write_demo_photos(args.out, tuple(args.names))
    except (ImportError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(paths)} photos to {args.out}: {', '.join(p.name for p in paths)}")
    return 0

