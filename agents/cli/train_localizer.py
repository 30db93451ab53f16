"""Train the object localizer (heatmap CNN + back-projection through the calibrated camera)
on an exported, randomized dataset; settings are chosen on randomized validation data.

Example (64 px, the README's recipe):
    python scripts/export_dataset.py --env domrand/Lift-v0 --preset tobin --num-images 4000 \\
        --size 64 --out data/loc_train --seed 0 --workers 2
    python scripts/export_dataset.py --env domrand/Lift-v0 --preset tobin --num-images 300 \\
        --size 64 --out data/loc_val --seed 1 --workers 2
    python scripts/train_localizer.py --train data/loc_train --val data/loc_val \\
        --out runs/localizer64.pt --epochs 15
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import torch

from agents.allocator import keep_freed_memory
from agents.cli.args import EnvIdAction, add_precision_flag, env_help
from agents.outputs import check_output_file
from agents.perception.heatmap_net import MERGES
from agents.perception.localizer import (
    LocalizerConfig,
    check_compatible,
    evaluate_localizer,
    load_data,
    load_localizer,
    save_localizer,
)
from agents.perception.localizer_training import train_localizer
from agents.perception.pose_data import PoseData, concat_pose_data, load_object_masks


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = LocalizerConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--train",
        required=True,
        nargs="+",
        metavar="DIR",
        help="exported dataset(s) to train on (several are concatenated)",
    )
    p.add_argument("--val", default=None, nargs="+", metavar="DIR",
                   help="randomized exported dataset(s) to select the epoch on (several are "
                   "concatenated)")  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint path (.pt); an existing localizer "
                   "checkpoint is replaced, any other file is kept unless --force")  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--env", default=None, action=EnvIdAction, metavar="ENV",
                   help=env_help("default: the training export's"))  # fmt: skip
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--low-res-epochs", type=int, default=d.low_res_epochs,
                   help="train the first N of --epochs on images averaged to half size "
                        "(progressive resizing: each such epoch costs about a third)")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width, help="channels of the first stage")
    p.add_argument(
        "--stem-stride",
        type=int,
        default=d.stem_stride,
        choices=(1, 2),
        help="2: strided first layer (heatmap at 1/4 resolution), for 128 px images",
    )
    p.add_argument("--merge", default=d.merge, choices=MERGES,
                   help="how the context stage joins the stride-2 features: concat (two 3x3 "
                   "convolutions) or add (a 1x1 projection, one 3x3: ~1.4x faster)")  # fmt: skip
    p.add_argument("--sigma", type=float, default=d.sigma,
                   help="std of the target heatmap's Gaussian, in heatmap cells")
    p.add_argument("--pixel-weight", type=float, default=d.pixel_weight,
                   help="weight of the soft-argmax L1 term next to the heatmap loss")
    p.add_argument("--mask-weight", type=float, default=d.mask_weight,
                   help="> 0: an auxiliary head learns the object's instance mask (the "
                   "export's instances/) with this loss weight")  # fmt: skip
    p.add_argument("--color-jitter", type=float, default=d.color_jitter,
                   help="photometric augmentation strength in [0, 1): brightness, contrast, "
                   "saturation and gamma jitter of every training image")  # fmt: skip
    p.add_argument("--mirror", action="store_true",
                   help="mirror half of each batch left-right (labels and masks follow)")
    add_precision_flag(p)
    p.add_argument("--init", default=None, metavar="CKPT",
                   help="start from this localizer's weights (fine-tune; same width, mask "
                   "head, heatmap side and merge: a 64 px model can start a 128 px one with "
                   "--stem-stride 2)")  # fmt: skip
    p.add_argument("--object", default=d.object_name, help="object to localize")
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
        config = LocalizerConfig(epochs=args.epochs, low_res_epochs=args.low_res_epochs,
                                 batch_size=args.batch_size, lr=args.lr,
                                 width=args.width, stem_stride=args.stem_stride,
                                 merge=args.merge,
                                 sigma=args.sigma, pixel_weight=args.pixel_weight,
                                 mask_weight=args.mask_weight, color_jitter=args.color_jitter,
                                 mirror=args.mirror, precision=args.precision,
                                 seed=args.seed,
                                 object_name=args.object)  # fmt: skip
        check_output_file(args.out, kind="localizer", suffixes=(".pt",), force=args.force)
        parts = [load(root, args.object) for root in args.train]
        train = concat_pose_data(parts)
        init = load_localizer(args.init) if args.init else None
        if init is not None and init.meta["object"] != args.object:
            raise ValueError(f"--init {args.init!r} localizes {init.meta['object']!r}, "
                             f"not {args.object!r}")  # fmt: skip
        masks = None
        if config.mask_weight > 0:
            masks = torch.cat([load_object_masks(part, args.object) for part in parts])
        vals = [load(root, args.object) for root in args.val or ()]
        env_id = args.env or train.manifest.get("env_id")
        if not env_id:
            raise ValueError(f"{args.train[0]!r} has no manifest naming its env; pass --env")
        for root, part in zip(args.train, parts, strict=True):
            if part.manifest.get("env_id", env_id) != env_id:
                raise ValueError(f"--train {root!r} was exported from "
                                 f"{part.manifest['env_id']}, not {env_id}")  # fmt: skip
        for root, part in zip(args.val or (), vals, strict=True):
            if (part.images.shape[-2:] != train.images.shape[-2:]
                    or part.manifest.get("env_id", env_id) != env_id):  # fmt: skip
                raise ValueError(
                    f"--val {root!r} ({part.manifest.get('env_id')}, "
                    f"{tuple(part.images.shape[-2:])} px) does not match --train "
                    f"{args.train[0]!r} ({env_id}, {tuple(train.images.shape[-2:])} px)"
                )
        val = concat_pose_data(vals) if vals else None
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {message}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        loc = train_localizer(train, val, config, env_id=env_id, masks=masks, init=init,
                              progress=not args.no_progress)  # fmt: skip
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.init:
        loc.meta["init"] = str(args.init)
    if len(args.train) > 1:
        loc.meta["train_roots"] = [str(root) for root in args.train]
    if args.val and len(args.val) > 1:
        loc.meta["val_roots"] = [str(root) for root in args.val]
    path = save_localizer(loc, args.out)
    print(f"wrote {path} in {(time.perf_counter() - t0) / 60:.1f} min "
          f"(epoch {loc.meta.get('selected_epoch', config.epochs)} selected)")  # fmt: skip
    for root, part in zip(args.val or (), vals, strict=True):
        check_compatible(loc, part, args.out)
        s = evaluate_localizer(loc, part)
        print(f"validation ({root}): {s['px_mean']:.2f} px mean, {s['px_median']:.2f} px "
              f"median; {s['mean_cm']:.2f} cm mean through the nominal camera")  # fmt: skip
    return 0
