"""Evaluate an object localizer on exported datasets: position error (cm) of the pixel it
finds back-projected through the calibrated camera, pixel error, and a top-view PNG.

Example:
    python scripts/evaluate_localizer.py --model runs/localizer64.pt --data data/target --json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from agents.allocator import keep_freed_memory
from agents.outputs import OutputPathError, check_output_dir
from agents.perception.ensemble import load_localizer_spec, spec_name, spec_paths
from agents.perception.localizer import (
    check_compatible,
    evaluate_localizer,
    load_data,
)
from agents.perception.pose_data import PoseData
from agents.plots import scatter_xy
from randomizers.assets import asset_dir


def default_plot_dir(model: str) -> Path:
    """Beside the (first) checkpoint, except a shipped one: ``assets/models`` belongs to the
    package, so its plots go to ``runs/localizer_plots`` in the working directory."""
    folder = Path(spec_paths(model)[0]).parent
    shipped = folder.resolve() == (asset_dir() / "models").resolve()
    return Path("runs") / "localizer_plots" if shipped else folder


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", required=True,
                   help="checkpoint from scripts/train_localizer.py, or an ensemble A.pt+B.pt "
                        "(heatmaps averaged); a verifier joins as A.pt+B.pt+V.pt")  # fmt: skip
    p.add_argument("--data", required=True, nargs="+", help="exported dataset(s)")
    p.add_argument("--plot-dir", default=None,
                   help="folder for the predicted-vs-true PNGs (default: beside the model; "
                        "runs/localizer_plots for a shipped one)")  # fmt: skip
    p.add_argument(
        "--camera",
        default="nominal",
        choices=["nominal", "recorded"],
        help="back-project through the calibrated camera (nominal: what a deployment "
        "knows) or each sample's own camera (recorded: for randomized validation data)",
    )
    p.add_argument("--visible", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="only samples whose object is LO..HI visible (e.g. 0.1 0.9: occluded)")
    p.add_argument("--json", action="store_true", help="print one JSON object per dataset")
    return p


def visible_subset(data: PoseData, lo: float, hi: float) -> PoseData:
    """The samples whose object's visible fraction lies in [lo, hi]; none is an error."""
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"--visible needs 0 <= LO <= HI <= 1, got {lo} {hi}")
    keep = (data.visible_fraction >= lo) & (data.visible_fraction <= hi)
    if not keep.any():
        raise ValueError(f"no sample of {data.root!r} has its object {lo:g}..{hi:g} visible "
                         "(visible fractions are computed unless the export ran with "
                         "--no-visibility)")  # fmt: skip
    return data.subset(keep)


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    keep_freed_memory()  # the same results, fewer page faults per step and per image read
    try:
        loc = load_localizer_spec(args.model)
        sets = []
        for root in args.data:
            data = load_data(root, loc.meta["object"])
            check_compatible(loc, data, args.model)
            if args.visible is not None:
                data = visible_subset(data, *args.visible)
            sets.append(data)
        plots = Path(args.plot_dir) if args.plot_dir else default_plot_dir(args.model)
        if plots.exists() and not plots.is_dir():
            raise OutputPathError(f"--plot-dir {str(plots)!r} is a file; give a folder")
        check_output_dir(plots, flag="--plot-dir")
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    plots.mkdir(parents=True, exist_ok=True)
    for root, data in zip(args.data, sets, strict=True):
        s = evaluate_localizer(loc, data, args.camera)
        png = plots / f"{spec_name(args.model, suffix=False)}_on_{Path(root).name}.png"
        scatter_xy(np.asarray(s.pop("true_xy")), np.asarray(s.pop("predicted_xy")),
                   title=f"{spec_name(args.model)} on {Path(root).name}: "
                         f"{s['mean_cm']:.2f} cm mean").save(png)  # fmt: skip
        if args.json:
            print(json.dumps({**s, "model": args.model, "data": root, "plot": str(png)}))
        else:
            print(f"{root}: {s['mean_cm']:.2f} +- {s['std_cm']:.2f} cm (median "
                  f"{s['median_cm']:.2f}, p90 {s['p90_cm']:.2f}, n={s['n']}); pixels "
                  f"{s['px_mean']:.2f} mean, {s['px_median']:.2f} median; plot {png}")  # fmt: skip
    return 0

