"""Translate an exported dataset with a trained image translator: a copy of the export
whose RGB images have the target frames' look and whose labels are unchanged (train on it
like on any export), plus a geometry check (does the object's centre move?) and the KID of
the translated images against held-out frames.

Examples:
    python scripts/translate_export.py --model runs/translator.pt --data data/lift_loc2 --out data/lift_loc2_cut
    python scripts/translate_export.py --model runs/translator.pt --data data/lift_loc2_val --out data/val_cut --check assets/models/lift_cube64.pt --heldout-frames runs/frames/heldout --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agents.gan.translate_export import geometry_report, translate_export
from agents.gan.translator import Translator, load_translator


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", required=True, help="translator checkpoint (.pt)")
    p.add_argument("--data", required=True, help="export folder to translate")
    p.add_argument("--out", required=True, help="new folder for the translated export")
    p.add_argument("--check", metavar="LOCALIZER",
                   help="localizer checkpoint: report how far its answer moves (geometry)")
    p.add_argument("--heldout-frames", metavar="DIR",
                   help="unlabelled frames never used in training: KID of translated images and "
                   "of the renders against them")
    p.add_argument("--grid", metavar="PNG",
                   help="write a picture: renders, their translations and (with "
                   "--heldout-frames) held-out frames, 8 of each")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _report(args: argparse.Namespace, translator: Translator, out: Path) -> dict[str, Any]:
    """Geometry and KID figures of the translated export against its source."""
    from agents.gan.frames import load_frames
    from agents.gan.metrics import features, kid
    from agents.gan.translator_train import export_images, resized
    from agents.perception.localizer import load_data, load_localizer

    report: dict[str, Any] = {"out": str(out)}
    size = translator.config.size
    held = resized(load_frames(args.heldout_frames), size) if args.heldout_frames else None
    if args.grid:
        from randomizers.image_grid import image_grid

        rows = [export_images([root], 8, size) for root in (args.data, out)]
        if held is not None:
            rows.append(held[:8])
        image_grid([image for row in rows for image in row], cols=8).save(args.grid)
        report["grid"] = args.grid
    if args.check:
        loc = load_localizer(args.check)
        data = load_data(args.data, loc.meta["object"])
        translated = load_data(out, loc.meta["object"]).images.permute(0, 2, 3, 1).numpy()
        report["geometry"] = geometry_report(loc, data, translated, loc.meta["object"])
    if held is not None:
        frames = features(held)
        limit = 10**6
        for key, root in (("render", args.data), ("translated", out)):
            images = export_images([root], limit, size)
            mean, std = kid(features(images), frames, subset_size=min(len(frames), 100))
            report[f"kid_x1000_{key}"] = [round(mean * 1000, 2), round(std * 1000, 2)]
    return report


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        translator = load_translator(args.model)
        out = translate_export(translator, args.data, args.out, checkpoint=args.model,
                               progress=not args.quiet)
        report = _report(args, translator, out)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"translated export written to {out}")
        for key, value in report.items():
            if key != "out":
                print(f"{key}: {value}")
    return 0



