"""Train a candidate verifier for a localizer (or ensemble): a small CNN that re-ranks the
localizer's strongest heatmap peaks from full-resolution crops, so a look-alike distractor
that wins the heatmap can lose to the object. Settings are chosen on randomized validation
data; use the result as one more checkpoint in the localizer spec: ``A.pt+B.pt+V.pt``.

Example (128 px, the README's recipe):
    python scripts/train_verifier.py --localizer assets/models/lift_cube128_crowded.pt+assets/models/lift_cube128_pool_v2.pt \\
        --train data/v2_crowded128 data/v2_pool128_occl --val data/v2_val --out runs/verifier128.pt --epochs 4
    python scripts/evaluate_localizer.py --data data/target128 \\
        --model assets/models/lift_cube128_crowded.pt+assets/models/lift_cube128_pool_v2.pt+runs/verifier128.pt

Choose only the inference settings of a trained verifier (alpha, refinement, peaks, flip and shift
averaging) on validation data, keeping its weights:
    python scripts/train_verifier.py --localizer A.pt+B.pt --init V.pt --settings-only --val data/v2_val --out V2.pt
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
from agents.perception.refiner import RefinedLocalizer
from agents.perception.verifier import (
    VerifiedLocalizer,
    VerifierConfig,
    load_verifier,
    save_verifier,
)
from agents.perception.verifier_training import choose_settings, train_verifier


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = VerifierConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--localizer", required=True, metavar="SPEC",
                   help="localizer checkpoint or ensemble A.pt+B.pt whose peaks to re-rank")  # fmt: skip
    p.add_argument("--train", nargs="+", metavar="DIR", default=[],
                   help="exported dataset(s) to mine candidates on (several are concatenated; "
                   "required unless --settings-only)")  # fmt: skip
    p.add_argument("--val", required=True, nargs="+", metavar="DIR",
                   help="randomized exported dataset(s) to choose the epoch, alpha, "
                   "refinement, peaks, flip and shift averaging on (several are "
                   "concatenated)")  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint path (.pt); an existing verifier "
                   "checkpoint is replaced, any other file is kept unless --force")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width, help="channels of the first stage")
    p.add_argument("--crop", type=int, default=d.crop, help="crop side in px (multiple of 4)")
    p.add_argument("-k", "--peaks", type=int, default=d.k, help="heatmap peaks re-ranked per image")
    p.add_argument("--offset-weight", type=float, default=d.offset_weight,
                   help="weight of the L1 loss on the object's offset from the crop's centre")
    p.add_argument("--color-jitter", type=float, default=d.color_jitter,
                   help="photometric augmentation strength in [0, 1)")  # fmt: skip
    add_precision_flag(p)
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this verifier's weights (fine-tune; same width and crop)")
    p.add_argument("--settings-only", action="store_true",
                   help="do not train: keep --init's weights and choose only its inference "
                   "settings (alpha, refinement, peaks, flip and shift averaging) on --val")  # fmt: skip
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
        config = VerifierConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                width=args.width, crop=args.crop, k=args.peaks,
                                color_jitter=args.color_jitter, precision=args.precision,
                                offset_weight=args.offset_weight, seed=args.seed)  # fmt: skip
        if args.settings_only and not args.init:
            raise ValueError("--settings-only keeps a trained verifier's weights: "
                             "give it as --init")  # fmt: skip
        if not args.settings_only and not args.train:
            raise ValueError("--train DIR is required (or --settings-only with --init)")
        check_output_file(args.out, kind="verifier", suffixes=(".pt",), force=args.force)
        loc = load_localizer_spec(args.localizer)
        if isinstance(loc, (VerifiedLocalizer, RefinedLocalizer)):
            held = "verifier" if isinstance(loc, VerifiedLocalizer) else "refiner"
            raise ValueError(f"--localizer {args.localizer!r} already holds a {held}; "
                             "name the localizer checkpoint(s) only")  # fmt: skip
        parts = [load(root, loc.meta["object"]) for root in args.train]
        vals = [load(root, loc.meta["object"]) for root in args.val]
        for part in (*parts, *vals):
            check_compatible(loc, part, args.localizer)
        val = concat_pose_data(vals)
        init = load_verifier(args.init) if args.init else None
        if init is not None and init.meta["object"] != loc.meta["object"]:
            raise ValueError(f"--init {args.init!r} verifies {init.meta['object']!r}; "
                             f"--localizer {args.localizer!r} localizes {loc.meta['object']!r}")  # fmt: skip
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    name = "+".join(spec_paths(args.localizer))
    if args.settings_only and init is not None:
        verifier = init
        verifier.meta |= {"localizer": name, **choose_settings(verifier, loc, val)}
    else:
        try:
            verifier = train_verifier(loc, concat_pose_data(parts), val, config,
                                      localizer_name=name, init=init,
                                      progress=not args.no_progress)  # fmt: skip
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        verifier.meta["train_roots"] = [str(root) for root in args.train]
        if args.init:
            verifier.meta["init"] = str(args.init)
    verifier.meta["val_roots"] = [str(root) for root in args.val]
    path = save_verifier(verifier, args.out)
    m = verifier.meta
    before, after = m["val_without"], m["val_with"]
    print(f"wrote {path} in {(time.perf_counter() - t0) / 60:.1f} min (epoch "
          f"{m.get('selected_epoch')}, alpha {m['alpha']:g}, refine {m['refine']}, "
          f"peaks {m['peaks']}, flip {m['flip']}, shift {m['shift']})")  # fmt: skip
    print(f"validation ({', '.join(args.val)}): {before['px_mean']:.2f} -> "
          f"{after['px_mean']:.2f} px mean, look-alike wins {100 * before['miss']:.1f}% -> "
          f"{100 * after['miss']:.1f}%")  # fmt: skip
    return 0
