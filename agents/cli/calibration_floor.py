"""The localization error floor that a held-out domain's camera error alone sets: a perfect
pixel detector back-projected through the nominal (calibrated) camera.

Example:
    python scripts/calibration_floor.py --presets target target_camera_shift tobin --n 500
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.cli.args import EnvIdAction, env_help
from agents.perception.camera_geometry import calibration_floor
from randomizers.errors import PresetError


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Lift-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--presets", nargs="+", default=["target", "target_camera_shift"],
                   help="preset names or .yaml paths")  # fmt: skip
    p.add_argument("--n", type=int, default=500, help="episodes per preset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object per preset")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        if args.n < 1:
            raise ValueError(f"--n must be >= 1, got {args.n}")
        if args.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {args.seed}")
        reports = [calibration_floor(args.env, preset, n=args.n, seed=args.seed)
                   for preset in args.presets]  # fmt: skip
    except (ValueError, PresetError, gym_error()) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for r in reports:
        if args.json:
            print(json.dumps(r.as_dict()))
        else:
            print(f"{r.preset:<24} mean {r.mean_cm:5.2f} cm   median {r.median_cm:5.2f} cm   "
                  f"p90 {r.p90_cm:5.2f} cm   ({r.n} episodes)")  # fmt: skip
    return 0


def gym_error() -> type[Exception]:
    """Gymnasium's base error (an unknown env id)."""
    import gymnasium as gym

    return gym.error.Error

