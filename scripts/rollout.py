#!/usr/bin/env python
"""Run episodes of a random, scripted-expert or trained policy and print success, return
and events.

Examples:
    python scripts/rollout.py --env domrand/Lift-v0 --episodes 20 --policy expert \
        --video lift.gif
    python scripts/rollout.py --env domrand/Push-v0 --episodes 20 --policy runs/push_sac.zip
    python scripts/rollout.py --env domrand/Reach-v0 --episodes 300 --policy expert \
        --preset tobin --image-size 64 --record domrand/reach-expert-tobin-v0
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.rollout import POLICIES, RolloutConfig, run_rollouts, save_video
from envs import ENV_IDS
from envs.panda_env import OBS_MODES


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--env", default="domrand/Reach-v0", choices=ENV_IDS, help="env id")
    p.add_argument("--episodes", type=int, default=10, help="number of episodes")
    p.add_argument(
        "--policy",
        default="expert",
        metavar="|".join((*POLICIES, "CKPT")),
        help="who acts: a built-in policy or a checkpoint path (.zip SB3, .pt behaviour cloning)",
    )
    p.add_argument(
        "--obs-mode",
        default=None,
        choices=OBS_MODES,
        help="observation mode (default: the checkpoint's, else state)",
    )
    p.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="observation image size in px (default: the checkpoint's, else 128)",
    )
    p.add_argument("--preset", default=None, help="randomization preset name or .yaml path")
    p.add_argument("--seed", type=int, default=0, help="run seed")
    p.add_argument(
        "--record",
        default=None,
        metavar="NAME",
        help="record the expert's episodes (state+rgb) as the Minari dataset NAME "
        "(e.g. domrand/push-expert-v0; needs pip install 'domrand[offline]')",
    )
    p.add_argument("--num-envs", type=int, default=1, help="parallel envs (AsyncVectorEnv)")
    p.add_argument("--video", default=None, help="write a .gif or .mp4 of the first episodes")
    p.add_argument("--video-episodes", type=int, default=2, help="episodes in the video")
    p.add_argument("--render-size", type=int, default=256, help="video frame size (px)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    if args.record:
        return record(args)
    try:
        config = RolloutConfig(
            env_id=args.env,
            episodes=args.episodes,
            policy=args.policy,
            obs_mode=args.obs_mode,
            seed=args.seed,
            num_envs=args.num_envs,
            image_size=args.image_size,
            video_episodes=args.video_episodes if args.video else 0,
            render_size=args.render_size,
            env_kwargs={"randomization": args.preset} if args.preset else {},
        )
        if args.video and not args.video.lower().endswith((".gif", ".mp4")):
            raise ValueError(f"--video must end in .gif or .mp4, got {args.video!r}")
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    frames: list = []
    summary, _ = run_rollouts(
        config, progress=not args.no_progress, on_frame=frames.append if args.video else None
    )
    if args.video:
        path = save_video(frames, args.video)
    if args.json:
        out = summary.as_dict()
        if args.video:
            out["video"] = str(path)
        print(json.dumps(out))
    else:
        print(summary.table())
        if args.video:
            print(f"\nvideo: {path} ({len(frames)} frames)")
    return 0


def record(args: argparse.Namespace) -> int:
    """``--record NAME``: expert demonstrations into a Minari dataset."""
    from agents.bc import OBS_MODE, record_demonstrations

    if args.policy != "expert":
        print("error: --record records the scripted expert; use --policy expert", file=sys.stderr)
        return 2
    if args.obs_mode not in (None, OBS_MODE):
        print(f"error: --record stores {OBS_MODE!r} observations; drop --obs-mode", file=sys.stderr)
        return 2
    try:
        dataset = record_demonstrations(
            args.env, args.record, episodes=args.episodes, preset=args.preset,
            image_size=args.image_size or 64, seed=args.seed, progress=not args.no_progress,
        )  # fmt: skip
    except (ValueError, FileExistsError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recorded {dataset.total_episodes} episodes ({dataset.total_steps} steps) as Minari "
          f"dataset {args.record!r}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
