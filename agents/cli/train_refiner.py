"""Train an offset refiner for a localizer spec (a localizer, ensemble or verified
ensemble): a small CNN that moves the spec's answer to the object's centre as seen in a
full-resolution crop around it, where the quarter-resolution heatmap is a few pixels off
(a partly hidden object). It starts from the spec's verifier's weights when there is one.
The epoch and the number of steps are chosen on randomized validation data; use the result
as one more checkpoint in the spec: ``A.pt+V.pt+R.pt``.

Example (128 px, after the README's verifier):
    python scripts/train_refiner.py --localizer runs/loc.pt+runs/ver.pt \\
        --train data/c_pb data/c_pbdense --val data/val_occl --out runs/ref.pt --precision bf16
    python scripts/evaluate_localizer.py --data data/target128 --model runs/loc.pt+runs/ver.pt+runs/ref.pt
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch

from agents.allocator import keep_freed_memory
from agents.cli.args import add_precision_flag
from agents.outputs import check_output_file
from agents.perception.ensemble import load_localizer_spec, spec_paths
from agents.perception.localizer import check_compatible, load_data
from agents.perception.pose_data import PoseData, concat_pose_data
from agents.perception.refiner import RefinedLocalizer, RefinerConfig, save_refiner
from agents.perception.refiner_training import train_refiner
from agents.perception.verifier import VerifiedLocalizer


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = RefinerConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--localizer", required=True, metavar="SPEC",
                   help="localizer spec whose answers to refine: A.pt, A.pt+B.pt or A.pt+V.pt")  # fmt: skip
    p.add_argument("--train", required=True, nargs="+", metavar="DIR",
                   help="exported dataset(s) to train on (several are concatenated)")
    p.add_argument("--val", required=True, nargs="+", metavar="DIR",
                   help="randomized exported dataset(s) to choose the epoch and the number of "
                   "steps on (several are concatenated)")  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint path (.pt); an existing refiner "
                   "checkpoint is replaced, any other file is kept unless --force")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width,
                   help="channels of the first stage (the verifier's, to start from it)")
    p.add_argument("--crop", type=int, default=d.crop, help="crop side in px (multiple of 4)")
    p.add_argument("--jitter-px", type=float, default=d.jitter_px,
                   help="std of the training crops' random shift from the true centre (px)")
    p.add_argument("--max-jitter-px", type=float, default=d.max_jitter_px,
                   help="that shift's clip, per axis (px; below half the crop)")
    p.add_argument("--color-jitter", type=float, default=d.color_jitter,
                   help="photometric augmentation strength in [0, 1)")  # fmt: skip
    add_precision_flag(p)
    p.add_argument("--from-scratch", action="store_true",
                   help="do not start from the spec's verifier's weights")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None,
         load: Callable[[str, str], PoseData] = load_data) -> int:
    """Entry point; ``load`` reads an export (a recipe passes a :class:`PoseDataCache`
    so that several trainings in one process read each export once)."""
    args = build_parser(prog).parse_args(argv)
    keep_freed_memory()  # the same results, fewer page faults per step and per image read
    try:
        config = RefinerConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                               width=args.width, crop=args.crop, jitter_px=args.jitter_px,
                               max_jitter_px=args.max_jitter_px, color_jitter=args.color_jitter,
                               precision=args.precision, seed=args.seed)  # fmt: skip
        check_output_file(args.out, kind="refiner", suffixes=(".pt",), force=args.force)
        loc = load_localizer_spec(args.localizer)
        if isinstance(loc, RefinedLocalizer):
            raise ValueError(f"--localizer {args.localizer!r} already holds a refiner; "
                             "name the localizer (and verifier) checkpoints only")  # fmt: skip
        init = None
        if isinstance(loc, VerifiedLocalizer) and not args.from_scratch:
            if loc.verifier.config.width != config.width:
                raise ValueError(f"the spec's verifier has width {loc.verifier.config.width}, "
                                 f"this refiner {config.width}: give --width "
                                 f"{loc.verifier.config.width} or --from-scratch")  # fmt: skip
            init = loc.verifier.model
        parts = [load(root, loc.meta["object"]) for root in args.train]
        vals = [load(root, loc.meta["object"]) for root in args.val]
        for part in (*parts, *vals):
            check_compatible(loc, part, args.localizer)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    name = "+".join(spec_paths(args.localizer))
    try:
        refiner = train_refiner(loc, concat_pose_data(parts), concat_pose_data(vals), config,
                                localizer_name=name, init=init, progress=not args.no_progress)  # fmt: skip
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    refiner.meta |= {"train_roots": [str(r) for r in args.train],
                     "val_roots": [str(r) for r in args.val],
                     "init": "verifier" if init is not None else None}  # fmt: skip
    path = save_refiner(refiner, args.out)
    trials = {t["steps"]: t for t in refiner.meta["val_trials"]}
    print(f"wrote {path} in {(time.perf_counter() - t0) / 60:.1f} min (epoch "
          f"{refiner.meta.get('selected_epoch')}, steps {refiner.steps})")  # fmt: skip
    print(f"validation ({', '.join(args.val)}): {trials[0]['px_mean']:.2f} -> "
          f"{trials[refiner.steps]['px_mean']:.2f} px mean, {trials[0]['px_median']:.2f} -> "
          f"{trials[refiner.steps]['px_median']:.2f} px median")  # fmt: skip
    return 0
