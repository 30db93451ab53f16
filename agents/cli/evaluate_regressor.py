"""Evaluate a pose regressor on an exported dataset: mean and std position error in cm,
and a top-view PNG of predicted vs true positions.

Example:
    python scripts/evaluate_regressor.py --model runs/tobin.pt --data data/target_test
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.outputs import OutputPathError, check_output_dir
from agents.perception.pose_data import load_pose_data
from agents.perception.pose_regressor import (
    check_compatible,
    error_summary,
    load_regressor,
    predict,
)
from agents.plots import scatter_xy


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--model", required=True, help="checkpoint from scripts/train_regressor.py")
    p.add_argument("--data", required=True, help="exported dataset to evaluate on")
    p.add_argument("--plot", default=None, help="PNG path (default: MODEL stem + data name)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        model = load_regressor(args.model)
        data = load_pose_data(args.data, model.meta.get("object", "cube"))
        check_compatible(model, data, args.model)
        plot = Path(args.plot) if args.plot else Path(args.model).with_name(
            f"{Path(args.model).stem}_on_{Path(args.data).name}.png"
        )
        if plot.is_dir():
            raise OutputPathError(f"--plot {str(plot)!r} is an existing folder; give a .png path")
        check_output_dir(plot.parent, flag="--plot")
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    pred = predict(model, data.images)
    true = data.targets.numpy()
    import numpy as np

    summary = error_summary(np.linalg.norm(pred - true, axis=1))
    scatter_xy(true[:, :2], pred[:, :2],
               title=f"{Path(args.model).name} on {Path(args.data).name}: "
                     f"{summary['mean_cm']:.2f} +- {summary['std_cm']:.2f} cm").save(plot)  # fmt: skip
    if args.json:
        print(json.dumps({**summary, "model": args.model, "data": args.data, "plot": str(plot)}))
    else:
        print(f"{args.model} on {args.data}: {summary['mean_cm']:.2f} +- {summary['std_cm']:.2f} cm "
              f"(median {summary['median_cm']:.2f}, p90 {summary['p90_cm']:.2f}, n={summary['n']})")
        print(f"plot: {plot}")
    return 0

