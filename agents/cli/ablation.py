"""Tobin et al. (2017) Table II in simulation: train the pose regressor with the full
``tobin`` preset, without image noise, without camera randomization, without distractors
and without randomization; evaluate each on ``target``-domain test sets (object alone,
with distractors, with occlusions). Writes ``table.md``, ``results.json`` and
``ablation.png`` into ``--out``; a rerun reuses the datasets exported there and the
configurations already trained with the same settings (so an interrupted run resumes).

Example (the README's table, measured on the camera-shift domain):
    python scripts/ablation.py --out runs/ablation --domain target_camera_shift
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.cli.args import EnvIdAction, env_help
from agents.experiments.ablation import (
    HELD_OUT,
    TABLE_II,
    TRAIN_CONFIGS,
    AblationConfig,
    export_test_sets,
    localizer_rows,
    localizer_table,
    run_ablation,
)
from agents.outputs import check_output_dir
from agents.perception.ensemble import load_localizer_spec
from agents.vector import check_image_size
from envs.dataset.config import ExportError
from envs.files import write_atomic


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = AblationConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--out", default=d.out, help="folder for data, models and results")
    p.add_argument("--env", default=d.env_id, action=EnvIdAction, metavar="ENV",
                   help=env_help("the target object is --object"))  # fmt: skip
    p.add_argument("--size", type=int, default=d.size,
                   help="image size (px): a power of two >= 32 (the regressor's input)")  # fmt: skip
    p.add_argument("--train-images", type=int, default=d.train_images)
    p.add_argument("--test-images", type=int, default=d.test_images)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--workers", type=int, default=d.workers, help="export processes")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--configs", default=",".join(TABLE_II),
                   help=f"comma-separated subset of {','.join(TRAIN_CONFIGS)}")  # fmt: skip
    p.add_argument("--object", default=d.object_name, help="object whose position to regress")
    p.add_argument("--domain", default=d.domain, choices=HELD_OUT,
                   help="held-out domain of the test sets")  # fmt: skip
    p.add_argument("--localizer", nargs="+", default=[], metavar="CKPT",
                   help="also evaluate these localizer checkpoints (or ensembles A.pt+B.pt, +V.pt for a verifier) on "
                   "the test sets (with --configs '' only they are evaluated); writes "
                   "localizers.md/.json")  # fmt: skip
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config = AblationConfig(
            out=args.out, env_id=args.env, size=args.size, train_images=args.train_images,
            test_images=args.test_images, epochs=args.epochs, workers=args.workers,
            seed=args.seed, configs=tuple(c for c in args.configs.split(",") if c),
            object_name=args.object, domain=args.domain,
        )  # fmt: skip
        if args.size < 32 or args.size & (args.size - 1):
            raise ValueError(
                f"--size must be a power of two >= 32 (the pose regressor's input), got "
                f"{args.size}; use 64 (or 32, 128)"
            )
        check_image_size(args.size, "--size")
        check_output_dir(args.out)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(config.out)
    try:
        for path in args.localizer:  # a missing or corrupt checkpoint fails before any work
            load_localizer_spec(path)
        if args.localizer:
            tests = export_test_sets(config, progress=not args.no_progress)
            rows = localizer_rows(args.localizer, tests)
            write_atomic(out / "localizers.json", json.dumps(rows, indent=2))
            write_atomic(out / "localizers.md", localizer_table(rows))
            print(localizer_table(rows))
            if not config.configs:
                return 0
        results = run_ablation(config, progress=not args.no_progress)
    except (ExportError, KeyError, ValueError, FileNotFoundError) as exc:
        # e.g. an --object the env does not have, a localizer for another image size
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    print()
    print((out / "table.md").read_text())
    print(f"wrote {out / 'table.md'}, {out / 'results.json'}, {out / 'ablation.png'} "
          f"in {results['wall_s'] / 60:.1f} min")  # fmt: skip
    return 0

