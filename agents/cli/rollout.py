r"""Run episodes of a random, scripted-expert or trained policy and print success, return
and events.

Examples:
    python scripts/rollout.py --env domrand/Lift-v0 --episodes 20 --policy expert \
        --video lift.gif
    python scripts/rollout.py --env domrand/Push-v0 --episodes 20 --policy runs/push_sac.zip
    python scripts/rollout.py --env domrand/Lift-v0 --episodes 200 --policy pixel-expert \
        --preset target
    python scripts/rollout.py --env domrand/Reach-v0 --episodes 300 --policy expert \
        --preset tobin --image-size 64 --record domrand/reach-expert-tobin-v0
    python scripts/rollout.py --env domrand/Lift-v0 --episodes 100 --policy expert \
        --preset tobin --record-lerobot data/lift_tobin          # needs domrand[lerobot]
    python scripts/rollout.py --env domrand/Lift-v0 --episodes 3 --preset tobin \
        --rerun-save lift.rrd                                     # or --rerun; domrand[viz]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.cli import missing_extra
from agents.cli.args import (
    EnvIdAction,
    add_fields,
    add_scene_flags,
    config_kwargs,
    env_help,
    scene_kwargs,
)
from agents.cli.record_flags import (
    add_lerobot_flags,
    check_lerobot_flags,
    evaluate_lerobot,
    record_lerobot,
    rerun_viewer,
)
from agents.outputs import OutputPathError, check_output_dir
from agents.rollout import POLICIES, RolloutConfig, run_rollouts
from agents.vector import VectorEnvWorkerError
from agents.video import save_video
from envs.panda_env import MAX_IMAGE_SIZE, OBS_MODES

RECORD_IMAGE_SIZE = 64

# RolloutConfig fields set by a flag of the same name (type and default from the dataclass)
FIELDS = ("env_id", "episodes", "policy", "obs_mode", "image_size", "seed", "num_envs",
          "render_size")  # fmt: skip
HELP = {
    "env_id": env_help(),
    "episodes": "number of episodes",
    "policy": "who acts: a built-in policy or a checkpoint path (.zip SB3, .pt behaviour "
    "cloning); pixel-expert: localizers on the RGB image + the scripted controller",
    "obs_mode": "observation mode (default: the checkpoint's, else state)",
    "image_size": f"observation image size in px, 1..{MAX_IMAGE_SIZE} (default: the checkpoint's, "
    f"else 128; {RECORD_IMAGE_SIZE} with --record)",
    "seed": "run seed",
    "num_envs": "parallel envs (AsyncVectorEnv); at most one per episode and per CPU is used",
    "render_size": "video frame size (px)",
}


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    add_fields(p, RolloutConfig, ["env_id", "episodes", "policy"], help=HELP,
               flags={"env_id": "--env"},
               extra={"env_id": {"action": EnvIdAction},
                      "policy": {"metavar": "|".join((*POLICIES, "CKPT"))}})  # fmt: skip
    p.add_argument(
        "--localizer", action="append", default=[], metavar="ROLE=CKPT",
        help="pixel-expert: use this localizer checkpoint (or ensemble A.pt+B.pt, +V.pt for a verifier) for ROLE "
        "(object; Push also goal) instead of the shipped one in assets/models",
    )  # fmt: skip
    add_fields(p, RolloutConfig, ["obs_mode", "image_size"], help=HELP,
               extra={"obs_mode": {"choices": OBS_MODES}})  # fmt: skip
    p.add_argument("--preset", default=None, help="randomization preset name or .yaml path")
    add_scene_flags(p)
    add_fields(p, RolloutConfig, ["seed"], help=HELP)
    p.add_argument(
        "--record",
        default=None,
        metavar="NAME",
        help="record the expert's episodes (state+rgb) as the Minari dataset NAME "
        "(e.g. domrand/push-expert-v0; needs pip install 'domrand[offline]')",
    )
    add_lerobot_flags(p)
    add_fields(p, RolloutConfig, ["num_envs"], help=HELP)
    p.add_argument("--video", default=None, help="write a .gif or .mp4 of the first episodes")
    # not RolloutConfig.video_episodes (0: no video): the count used once --video is given
    p.add_argument("--video-episodes", type=int, default=2, help="episodes in the video")
    add_fields(p, RolloutConfig, ["render_size"], help=HELP)
    p.add_argument(
        "--rerun",
        action="store_true",
        help="show the episodes in a spawned Rerun viewer (needs pip install 'domrand[viz]')",
    )
    p.add_argument(
        "--rerun-save",
        default=None,
        metavar="FILE.rrd",
        help="save the episodes as a Rerun recording (open with: rerun FILE.rrd)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        if args.record and args.record_lerobot:
            raise ValueError("give --record (Minari) or --record-lerobot, not both")
        if args.record:
            return record(args)
        if args.lerobot_policy:
            return evaluate_lerobot(args)
        if args.record_lerobot:
            return record_lerobot(args, localizers=parse_localizers(args.localizer),
                                  default_image_size=RECORD_IMAGE_SIZE)  # fmt: skip
        check_lerobot_flags(args)
        config = RolloutConfig(
            **config_kwargs(args, RolloutConfig, FIELDS),
            video_episodes=args.video_episodes if args.video else 0,
            env_kwargs={
                **({"randomization": args.preset} if args.preset else {}),
                **scene_kwargs(args),
            },
            localizers=parse_localizers(args.localizer),
        )
        if args.video:
            check_video_path(args.video)
        frames: list = []
        viewer = rerun_viewer(args, config)
        summary, _ = run_rollouts(
            config, progress=not args.no_progress, on_frame=frames.append if args.video else None,
            on_step=viewer,
        )  # fmt: skip
        if viewer is not None:
            viewer.rec.flush()
        path = save_video(frames, args.video) if args.video else None
    except (ValueError, ImportError, FileExistsError, FileNotFoundError,
            VectorEnvWorkerError) as exc:
        line = missing_extra(exc) if isinstance(exc, ImportError) else None
        print(line or f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = summary.as_dict()
        if path is not None:
            out["video"] = str(path)
        print(json.dumps(out))
    else:
        print(summary.table())
        if path is not None:
            print(f"\nvideo: {path} ({len(frames)} frames)")
    return 0


def parse_localizers(items: list[str]) -> dict[str, str]:
    """``--localizer ROLE=CKPT`` options as a dict; a malformed or repeated one is refused."""
    out: dict[str, str] = {}
    for item in items:
        role, sep, path = item.partition("=")
        if not sep or not role or not path:
            raise ValueError(f"--localizer takes ROLE=CKPT (e.g. object=runs/loc.pt), got {item!r}")
        if role in out:
            raise ValueError(f"--localizer {role}= given twice")
        out[role] = path
    return out


def check_video_path(video: str) -> None:
    """``--video``: a .gif or .mp4 file in a writable folder (checked before any episode)."""
    if not video.lower().endswith((".gif", ".mp4")):
        raise ValueError(f"--video must end in .gif or .mp4, got {video!r}")
    if Path(video).is_dir():
        raise OutputPathError(f"--video {video!r} is an existing folder; give a file path "
                              f"such as {str(Path(video) / 'rollout.gif')!r}")  # fmt: skip
    check_output_dir(Path(video).parent, flag="--video")


def record(args: argparse.Namespace) -> int:
    """``--record NAME``: expert demonstrations into a Minari dataset; prints the same
    summary as a plain rollout. Errors propagate to :func:`main`."""
    from agents.demos import check_dataset_id, record_demonstrations
    from agents.policies.bc import OBS_MODE
    from agents.rollout import summarize

    if args.policy != "expert":
        raise ValueError("--record records the scripted expert; use --policy expert")
    if args.obs_mode not in (None, OBS_MODE):
        raise ValueError(f"--record stores {OBS_MODE!r} observations; drop --obs-mode")
    if args.num_envs != 1:
        raise ValueError("--record runs one env; drop --num-envs")
    if args.video:
        raise ValueError("--record writes no video; drop --video (or run once without --record)")
    image_size = RECORD_IMAGE_SIZE if args.image_size is None else args.image_size
    config = RolloutConfig(  # validates env, episodes, image size and preset up front
        env_id=args.env_id, episodes=args.episodes, policy="expert", obs_mode=OBS_MODE,
        seed=args.seed, image_size=image_size,
        env_kwargs={"randomization": args.preset} if args.preset else {},
    )  # fmt: skip
    check_dataset_id(args.record)
    recording = record_demonstrations(
        args.env_id, args.record, episodes=args.episodes, preset=args.preset,
        image_size=image_size, seed=args.seed, progress=not args.no_progress,
    )  # fmt: skip
    summary = summarize(config, recording.results, recording.seconds)
    dataset = recording.dataset
    line = (f"recorded {dataset.total_episodes} episodes ({dataset.total_steps} steps) as Minari "
            f"dataset {args.record!r}")  # fmt: skip
    if args.json:
        print(json.dumps({**summary.as_dict(), "dataset": args.record,
                          "steps": dataset.total_steps}))  # fmt: skip
    else:
        print(summary.table())
        print(f"\n{line}")
    return 0
