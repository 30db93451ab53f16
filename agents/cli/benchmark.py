"""Benchmark every env next to raw PyBullet on the same scene, in the same run.

Prints (and optionally writes as JSON and Markdown) physics steps/s in ``state`` mode,
frames/s in ``rgb`` mode per image size, and the mean reset time; the ratio env / raw is
the figure that matters (the raw loop replays the env's own joint targets). With
``--scaling`` and ``--out-dir`` it also draws ``scaling.png`` (randomized frames/s against
image size and process count).

Example:
    python scripts/benchmark.py --steps 500 --out-dir benchmarks/
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from agents.cli.args import EnvIdAction, env_help
from agents.outputs import OutputPathError, check_output_dir
from envs import ENV_IDS
from envs.benchmark.breakdown import measure_breakdown
from envs.benchmark.cameras import measure_cameras
from envs.benchmark.checks import check_arguments
from envs.benchmark.export import measure_export
from envs.benchmark.frames import measure_env, measure_presets, measure_randomized_frames
from envs.benchmark.plot import plot_scaling
from envs.benchmark.scaling import measure_scaling
from envs.benchmark.tables import EXPORT_DEFINITIONS, export_table, markdown_table

if TYPE_CHECKING:
    from agents.perception.throughput import TrainingRow


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", nargs="*", default=list(ENV_IDS), action=EnvIdAction,
                   metavar="ENV", help=env_help("several allowed"))  # fmt: skip
    p.add_argument("--steps", type=int, default=400, help="env steps per measurement")
    p.add_argument("--sizes", type=int, nargs="*", default=[64, 128], help="image sizes (px)")
    p.add_argument("--resets", type=int, default=200, help="resets timed per env")
    p.add_argument("--repeats", type=int, default=3, help="best of N repeats")
    p.add_argument(
        "--presets", nargs="*", default=["none", "physics", "tobin", "target"],
        help="presets whose reset time is measured",
    )  # fmt: skip
    p.add_argument("--randomized-preset", default="tobin", help="preset for randomized frames/s")
    p.add_argument(
        "--scaling", action="store_true",
        help="add randomized frames/s for 1 and 2 processes, low/full detail, tiny/egl",
    )  # fmt: skip
    p.add_argument("--processes", type=int, nargs="*", default=[1, 2], help="for --scaling")
    p.add_argument(
        "--cameras", action="store_true",
        help="add steps/s with a front camera, a wrist camera and both (first --env, first "
        "size; nominal and the randomized preset)",
    )  # fmt: skip
    p.add_argument(
        "--export", action="store_true",
        help="add dataset-export images/s (1 and 2 workers) next to raw rendering",
    )  # fmt: skip
    p.add_argument(
        "--export-only", action="store_true",
        help="only the --export measurements (first --env), none of the env benchmarks",
    )  # fmt: skip
    p.add_argument(
        "--breakdown", action="store_true",
        help="add where a randomized reset's time goes (each randomizer's sample and apply, "
        "the task, the render, the image filter), first --env and --sizes",
    )  # fmt: skip
    p.add_argument(
        "--training", action="store_true",
        help="add the localizer's training images/s at the first --sizes, float32 against "
        "bfloat16 forward passes (train_localizer.py --precision), for each trunk merge "
        "(--merge)",
    )  # fmt: skip
    p.add_argument("--training-only", action="store_true",
                   help="only the --training measurements, none of the env benchmarks")
    p.add_argument("--out-dir", default=None, help="write benchmark.json and benchmark.md here")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    args.export = args.export or args.export_only
    args.training = args.training or args.training_only
    try:
        presets = [*args.presets, *([args.randomized_preset] if args.randomized_preset else [])]
        check_arguments(
            env_ids=tuple(args.env), sizes=tuple(args.sizes), steps=args.steps,
            resets=args.resets, repeats=args.repeats, presets=tuple(presets),
            processes=tuple(args.processes),
        )  # fmt: skip
        if args.out_dir:
            check_output_dir(args.out_dir, flag="--out-dir")
    except (ValueError, OutputPathError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    load_start = os.getloadavg()[0]  # other jobs on the machine skew every figure
    rows = []
    for env_id in [] if args.export_only or args.training_only else args.env:
        rows += measure_env(
            env_id, n_steps=args.steps, sizes=tuple(args.sizes), n_resets=args.resets,
            repeats=args.repeats,
        )  # fmt: skip
        rows += measure_presets(env_id, tuple(args.presets), n_resets=args.resets)
        if args.randomized_preset:
            rows += measure_randomized_frames(
                env_id, args.randomized_preset, tuple(args.sizes), n_steps=args.steps,
                repeats=args.repeats,
            )  # fmt: skip
    if args.breakdown:
        rows += measure_breakdown(args.env[0], args.randomized_preset or "tobin",
                                  args.sizes[0], n_frames=args.steps)  # fmt: skip
    if args.cameras:
        for preset in (None, args.randomized_preset or None):
            rows += measure_cameras(args.env[0], preset, args.sizes[0], n_steps=args.steps,
                                    repeats=args.repeats)  # fmt: skip
    if args.scaling:
        rows += measure_scaling(
            args.env[0], args.randomized_preset or "tobin", sizes=tuple(args.sizes),
            processes=tuple(args.processes), n_frames=args.steps,
        )  # fmt: skip
    exports = []
    if args.export:
        exports = measure_export(
            args.env[0], args.randomized_preset or "tobin", sizes=tuple(args.sizes),
            workers=tuple(args.processes), n_images=max(args.steps, 20), repeats=args.repeats,
        )  # fmt: skip
        rows += [m for r in exports for m in r.measurements()]
    training: list[TrainingRow] = []
    if args.training:  # 64 px and below: a stride-1 stem, larger: stride 2 (the README's)
        from agents.perception.throughput import measure_training  # torch: only when asked

        training = measure_training(size=args.sizes[0], stem_stride=1 if args.sizes[0] <= 64 else 2,
                                    repeats=args.repeats)  # fmt: skip
    stamp = datetime.date.today().isoformat()
    machine = f"{platform.processor() or platform.machine()}, {platform.python_version()}"
    table = markdown_table(rows) if rows else ""
    if exports:
        table += f"\n\nExport ({args.env[0]}):\n\n{export_table(exports)}\n\n{EXPORT_DEFINITIONS}."
    if training:
        from agents.perception.throughput import training_table

        threads = training[0].threads
        table += f"\n\nTraining ({threads} torch threads):\n\n{training_table(training)}"
    load = f"load average {load_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    renderer = ", TinyRenderer" if rows else ""  # --training-only renders nothing
    print(f"Benchmark {stamp} ({machine}){renderer}, best of {args.repeats}, {load}\n")
    print(table)
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        export = [{**dataclasses.asdict(r), "overhead": r.overhead} for r in exports]
        (out / "benchmark.json").write_text(
            json.dumps({"date": stamp, "machine": machine, "load": load,
                        "rows": [r.as_dict() for r in rows], "export": export,
                        "training": [dataclasses.asdict(r) for r in training]}, indent=2)
        )  # fmt: skip
        (out / "benchmark.md").write_text(f"Benchmark {stamp} ({machine}, {load})\n\n{table}\n")
        print(f"\nwrote {out / 'benchmark.json'} and {out / 'benchmark.md'}")
        plot = plot_scaling(rows, out / "scaling.png", f"{args.env[0]}, {stamp} ({machine})")
        if plot is not None:
            print(f"wrote {plot}")
    return 0

