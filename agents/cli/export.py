"""Export a randomized, labelled image dataset (native JSONL, optionally COCO and BOP).

Example:
    python scripts/export_dataset.py --env domrand/Push-v0 --preset tobin --num-images 1000 \
        --size 128 --out datasets/push_tobin --seed 0 --workers 2 --format coco,bop --depth
"""

from __future__ import annotations

import argparse
import sys
import time

from agents.cli.args import (
    EnvIdAction,
    add_fields,
    add_scene_flags,
    config_kwargs,
    env_help,
    field_default,
    scene_kwargs,
)
from agents.policies.experts import make_expert
from envs.dataset.config import FORMATS, MAX_NUM_IMAGES, ExportConfig
from envs.dataset.export import export_dataset
from randomizers.errors import PresetError


def steps_range(text: str) -> tuple[int, int | None]:
    """``--steps``: ``N`` (every sample) or ``LO:HI`` (a count per sample, LO..HI)."""
    lo, sep, hi = text.partition(":")
    try:
        out = (int(lo), int(hi) if sep else None)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or LO:HI (e.g. 0:60), got {text!r}") from None
    if out[0] < 0 or (out[1] is not None and out[1] < out[0]):
        raise argparse.ArgumentTypeError(f"expected 0 <= LO <= HI, got {text!r}")
    return out


def image_size(text: str) -> tuple[int, int]:
    """``--size``: ``N`` (N x N pixels) or ``WxH`` (width x height)."""
    w, sep, h = text.lower().partition("x")
    try:
        out = (int(w), int(h) if sep else int(w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or WxH (e.g. 128x96), got {text!r}") from None
    return out


def size_fields(
    size: int | tuple[int, int], width: int | None, height: int | None
) -> dict[str, int | None]:
    """ExportConfig's ``size``, ``width`` and ``height`` from ``--size N|WxH``, ``--width``
    and ``--height`` (a square image keeps the one ``size`` of a square export)."""
    w, h = (size, size) if isinstance(size, int) else size
    if w != h and (width is not None or height is not None):
        raise ValueError("give --size WxH or --width/--height, not both")
    if w == h:
        return {"size": w, "width": width, "height": height}
    return {"size": field_default(ExportConfig, "size"), "width": w, "height": h}


# ExportConfig fields set by a flag of the same name (type and default from the dataclass)
FIELDS = ("env_id", "preset", "num_images", "size", "out", "seed", "workers", "resume",
          "overwrite", "policy", "depth", "visibility", "png_level", "backend", "address")  # fmt: skip
HELP = {
    "env_id": env_help(),
    "preset": "preset name or .yaml path ('none' for none)",
    "num_images": f"samples to export, at most {MAX_NUM_IMAGES:,} per export (split a "
    "larger dataset into several exports)",
    "size": "image size (px): N (square) or WxH",
    "width": "image width (px; default: --size)",
    "height": "image height (px; default: --size)",
    "out": "output folder",
    "workers": "processes (at most the CPU count)",
    "resume": "continue an interrupted export",
    "overwrite": "replace an earlier export in --out (only once the new one is done; "
    "refused when it holds other files)",
    "policy": "who acts during --steps",
    "depth": "also write 16-bit depth PNGs (mm)",
    "visibility": "skip visible fractions",
    "png_level": "zlib level of the RGB PNGs, 0-9 (0: stored, the fastest to write and read, "
    "~1.5x the bytes; the pixels are the same)",
    "address": "Ray cluster address (default: local Ray)",
}


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add_fields(p, ExportConfig, ["env_id"], help=HELP, flags={"env_id": "--env"},
               extra={"env_id": {"action": EnvIdAction}})  # fmt: skip
    # by hand: ExportConfig.preset also takes dicts and Randomizer objects (not from a flag)
    p.add_argument("--preset", dest="preset", default=field_default(ExportConfig, "preset"),
                   metavar="PRESET", help=HELP["preset"])  # fmt: skip
    add_fields(p, ExportConfig, FIELDS[FIELDS.index("num_images"):FIELDS.index("policy") + 1],
               help=HELP, extra={"out": {"required": True},
                                 "policy": {"choices": ["random", "expert"]},
                                 "size": {"type": image_size, "metavar": "N|WxH"}})  # fmt: skip
    add_fields(p, ExportConfig, ["width", "height"], help=HELP)
    p.add_argument(
        "--format", default="", help=f"comma-separated extra formats: {','.join(FORMATS)}"
    )
    add_fields(p, ExportConfig, ["depth"], help=HELP)
    add_scene_flags(p)
    p.add_argument("--steps", type=steps_range, default=(0, None), metavar="N|LO:HI",
                   help="actions (of --policy) before each capture: N, or a count drawn per "
                   "sample from LO..HI (robot and object in varied states)")  # fmt: skip
    add_fields(p, ExportConfig, ["visibility", "png_level", "backend", "address"], help=HELP,
               extra={"backend": {"choices": ["local", "ray"]}})  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    formats = tuple(f for f in args.format.split(",") if f)
    try:
        fields = config_kwargs(args, ExportConfig, FIELDS)
        fields.update(size_fields(fields.pop("size"), args.width, args.height))
        config = ExportConfig(
            **fields,
            formats=formats, steps=args.steps[0], max_steps=args.steps[1],
            env_kwargs=scene_kwargs(args) or None,
        )  # fmt: skip
        t0 = time.perf_counter()
        factory = make_expert if args.policy == "expert" else None
        out = export_dataset(config, progress=not args.no_progress, policy_factory=factory)
    except (ValueError, PresetError, OSError, ImportError, RuntimeError) as exc:
        # OSError: a file that cannot be read or written (the message names it)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - t0
    print(f"wrote {args.num_images} samples to {out} in {seconds:.1f} s "
          f"({args.num_images / seconds:.0f} images/s incl. start-up)")  # fmt: skip
    return 0
