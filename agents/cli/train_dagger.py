"""Distil the privileged scripted expert into a visuomotor policy (RGB + proprioception) by
DAgger in randomized simulation; the checkpoint runs with ``scripts/rollout.py --policy``.

Each iteration prints its validation success (learner-only rollouts on the training
preset, seeds disjoint from training); the best iteration is kept, and written to the
checkpoint as soon as it is finished (an interrupted run leaves a usable policy). Beside the checkpoint
go ``CKPT.log.json`` (config, one row per iteration, wall time) and ``CKPT.curve.png``.

The default preset, ``tobin_photos_calibrated``, randomizes appearance as ``tobin_photos`` does
and the camera only within a hand-eye calibration's error around the calibrated pose: the
network back-projects its keypoints through that calibrated camera. Starting the trunk from
the shipped localizer (``--init-localizer``) is the recipe of the README's transfer table.

Example:
    python scripts/train_dagger.py --env domrand/Lift-v0 --out runs/lift_dagger.pt \
        --init-localizer assets/models/lift_cube64.pt
    python scripts/train_dagger.py --env domrand/Lift-v0 --preset none --out runs/lift_nodr.pt
    python scripts/rollout.py --env domrand/Lift-v0 --policy runs/lift_dagger.pt \
        --preset target --episodes 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from agents.cli.args import EnvIdAction
from agents.dagger.loop import DaggerConfig, check_env, run_dagger, save_dagger
from agents.dagger.net import KEYPOINTS
from agents.outputs import check_output_file

DEFAULT_PRESET = "tobin_photos_calibrated"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = DaggerConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", required=True, action=EnvIdAction, metavar="ENV",
                   help=f"env id: {', '.join(KEYPOINTS)}")  # fmt: skip
    p.add_argument("--preset", default=DEFAULT_PRESET,
                   help=f"training randomization preset (name or .yaml); 'none': no "
                        f"randomization (default {DEFAULT_PRESET})")  # fmt: skip
    p.add_argument("--out", required=True, help="checkpoint path (.pt)")
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--episodes-per-iteration", type=int, default=d.episodes_per_iteration)
    p.add_argument("--epochs", type=float, default=d.epochs,
                   help="training samples per iteration = EPOCHS x the frames it collected")  # fmt: skip
    p.add_argument("--val-episodes", type=int, default=d.val_episodes,
                   help="learner-only validation episodes on the training preset per iteration")  # fmt: skip
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--shift", type=int, default=d.shift, help="random-shift augmentation (px)")
    p.add_argument("--aux-weight", type=float, default=d.aux_weight,
                   help="weight of the keypoint heatmap loss")  # fmt: skip
    p.add_argument("--head-steps", type=int, default=d.head_steps,
                   help="action-head-only updates per iteration on the predicted keypoints")  # fmt: skip
    p.add_argument("--head-noise", type=float, default=d.head_noise,
                   help="keypoint noise (px) for those updates")  # fmt: skip
    p.add_argument("--beta-decay", type=float, default=d.beta_decay,
                   help="the expert acts with probability BETA_DECAY**iteration per step")  # fmt: skip
    p.add_argument("--no-resample-appearance", action="store_true",
                   help="keep one appearance per training episode (default: new every step)")  # fmt: skip
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--stem-stride", type=int, choices=(1, 2), default=d.stem_stride,
                   help="2: a strided first layer (128 px at the cost of 64 px)")  # fmt: skip
    p.add_argument("--init-localizer", default=None, metavar="CKPT",
                   help="start the trunk from this localizer checkpoint (same width, image "
                        "size and stem stride)")  # fmt: skip
    p.add_argument("--freeze-trunk", type=int, default=d.freeze_trunk, metavar="N",
                   help="keep the trunk's weights fixed for the first N iterations")  # fmt: skip
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (>= 1)")
    p.add_argument("--no-progress", action="store_true")
    return p


def check_args(args: argparse.Namespace) -> tuple[DaggerConfig, str | None]:
    """The config and preset; any bad value raises ``ValueError`` before any work."""
    check_env(args.env)
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    config = DaggerConfig(
        iterations=args.iterations, episodes_per_iteration=args.episodes_per_iteration,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, width=args.width,
        shift=args.shift, aux_weight=args.aux_weight, head_steps=args.head_steps,
        head_noise=args.head_noise, beta_decay=args.beta_decay,
        resample_appearance=not args.no_resample_appearance, val_episodes=args.val_episodes,
        image_size=args.image_size, stem_stride=args.stem_stride,
        init_localizer=args.init_localizer,
        freeze_trunk=args.freeze_trunk, seed=args.seed,
    )  # fmt: skip
    preset = None if args.preset in ("none", "") else args.preset
    if preset is not None:
        from randomizers.presets import load_preset

        load_preset(preset)  # an unknown preset fails here, not after the first iteration
    if args.init_localizer is not None:
        from agents.dagger.loop import init_from_localizer
        from agents.dagger.net import KeypointNet

        names = KEYPOINTS[args.env]
        net = KeypointNet(config.image_size, 7, 4, len(names), config.width, config.hidden,
                          config.stem_stride)  # fmt: skip
        init_from_localizer(net, args.init_localizer, names, config.image_size)  # refused here
    check_output_file(args.out, kind="bc", suffixes=(".pt",), force=args.force)
    return config, preset


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config, preset = check_args(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()

    def show(row: dict[str, Any]) -> None:
        val = f"{row['val_success']:.2f}" if "val_success" in row else "-"
        print(f"iteration {row['iteration']}: beta {row['beta']:.2f}, {row['frames']} frames, "
              f"rollout success {row['rollout_success']:.2f}, validation success {val}, "
              f"action MSE {row['action_mse']:.4f} (head {row.get('head_mse', float('nan')):.4f}), keypoint loss {row['keypoint_loss']:.3f}, "
              f"{row['seconds']:.0f} s", flush=True)  # fmt: skip

    result = run_dagger(args.env, preset, config, progress=not args.no_progress, log=show,
                        checkpoint=args.out)  # the best iteration so far, after each one
    path = save_dagger(result.policy, args.out)
    seconds = round(time.perf_counter() - t0, 1)
    summary = {"checkpoint": str(path), "env": args.env, "preset": preset,
               "selected_iteration": result.selected_iteration, "seconds": seconds,
               "threads": args.threads, "config": asdict(config), "iterations": result.log}  # fmt: skip
    Path(path.with_suffix(".log.json")).write_text(json.dumps(summary, indent=2))
    write_curve(result.log, path.with_suffix(".curve.png"))
    print(json.dumps({k: summary[k] for k in ("checkpoint", "selected_iteration", "seconds")}))
    return 0


def write_curve(log: list[dict[str, Any]], path: Path) -> None:
    """Validation and rollout success per iteration, with the losses on a second axis."""
    from agents.plots import line_chart

    curves = {"rollout success (mixture)": [r["rollout_success"] for r in log]}
    if log and "val_success" in log[0]:
        curves["validation success (learner)"] = [r["val_success"] for r in log]
    right = {"action MSE": [r["action_mse"] for r in log]}
    line_chart(curves, title="DAgger", xlabel="iteration (1 = expert data)",
               ylabel="success rate", right=right, right_label="loss").save(path)  # fmt: skip

