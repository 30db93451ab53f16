"""Train the vision pose regressor (Tobin et al. 2017) on an exported dataset.

Predicts the target object's 3D position in the robot base frame from one RGB image;
writes the checkpoint, a training-curve PNG and a JSON of the curves next to it.

Example:
    python scripts/export_dataset.py --env domrand/Lift-v0 --preset tobin --num-images 4000 \
        --size 64 --out data/train --seed 1 --workers 2
    python scripts/export_dataset.py --env domrand/Lift-v0 --preset tobin --num-images 300 \
        --size 64 --out data/val --seed 2 --workers 2
    python scripts/train_regressor.py --train data/train --val data/val --out runs/tobin.pt
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.outputs import check_output_file
from agents.perception.pose_data import load_pose_data
from agents.perception.pose_regressor import (
    RegressorConfig,
    check_training_data,
    error_summary,
    position_errors,
    save_regressor,
    train_regressor,
)
from agents.plots import line_chart


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--train", required=True, help="exported dataset to train on")
    p.add_argument("--val", default=None, help="exported dataset to validate on each epoch")
    p.add_argument(
        "--out", required=True,
        help="checkpoint path (.pt); an existing pose-regressor checkpoint there is replaced,\n"
        "any other existing file is kept unless --force",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--width", type=int, default=32, help="channels of the first conv layer")
    p.add_argument("--object", default="cube", help="name of the object whose position to learn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config = RegressorConfig(
            epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width,
            seed=args.seed, object_name=args.object, threads=args.threads,
        )  # fmt: skip
        check_output_file(args.out, kind="regressor", suffixes=(".pt",), force=args.force)
        train = load_pose_data(args.train, args.object)
        val = load_pose_data(args.val, args.object) if args.val else None
        check_training_data(train, val)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    result = train_regressor(train, val, config, progress=not args.no_progress)
    meta = {
        "env_id": train.manifest.get("env_id"),
        "preset": (train.manifest.get("preset") or {}).get("name"),
        "train": str(args.train),
        "num_train": len(train),
        "object": args.object,
        "seconds": round(result.seconds, 1),
    }
    out = save_regressor(result, args.out, meta)
    curves = {"train_loss": result.train_loss, "val_error_cm": result.val_error_cm}
    out.with_suffix(".curves.json").write_text(json.dumps(curves, indent=1))
    val_curve = {"val error (cm)": result.val_error_cm} if result.val_error_cm else None
    final = f", final val error {result.val_error_cm[-1]:.2f} cm" if val_curve else ""
    chart = line_chart(
        {"train loss": result.train_loss},
        right=val_curve,
        title=f"pose regressor training{final}",
        xlabel="epoch",
        ylabel="loss (MSE of normalized targets)",
        right_label="validation error (cm)",
    )
    chart.save(out.with_suffix(".curve.png"))
    print(f"trained on {len(train)} images in {result.seconds:.0f} s -> {out}")
    if val is not None:
        s = error_summary(position_errors(result, val))
        print(f"validation: {s['mean_cm']:.2f} +- {s['std_cm']:.2f} cm (n={s['n']})")
    return 0

