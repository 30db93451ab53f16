"""``scripts/rollout.py``'s LeRobot and Rerun flags: ``--record-lerobot DIR`` (the recording,
:mod:`agents.recording.lerobot`), ``--lerobot-policy DIR`` (a trained LeRobot policy scored on
the same episodes as any rollout) and ``--rerun`` / ``--rerun-save``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from agents.cli.args import scene_kwargs
from agents.rollout import PIXEL_OBS_MODE, RolloutConfig

LEROBOT_ONLY = ("resume", "overwrite", "task", "repo_id", "lerobot_images", "lerobot_privileged")


def add_lerobot_flags(p: argparse.ArgumentParser) -> None:
    """``--record-lerobot`` and the flags that shape the dataset."""
    g = p  # one flat list: the help ends with --no-progress, as every command's does
    g.add_argument("--record-lerobot", default=None, metavar="DIR",
                   help="write the episodes (every policy) as a LeRobotDataset (v3) in DIR: "
                   "camera images, observation.state, action, reward, task; each episode's "
                   "seed and randomization params in DIR/meta/domrand_episodes.jsonl")  # fmt: skip
    g.add_argument("--lerobot-policy", default=None, metavar="DIR",
                   help="run a trained LeRobot policy (lerobot-train's .../pretrained_model "
                   "folder) instead of --policy and print its success [Wilson 95%%]")  # fmt: skip
    g.add_argument("--resume", action="store_true",
                   help="DIR holds a dataset recorded with the same flags: append --episodes "
                   "more (the run's next episodes)")  # fmt: skip
    g.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the domrand LeRobot dataset in DIR (once the new one is complete)",
    )
    g.add_argument("--task", default=None, metavar="TEXT",
                   help="the dataset's task text (default: a sentence for the env)")  # fmt: skip
    g.add_argument("--repo-id", default=None, metavar="ID",
                   help="LeRobot repo id (default: domrand/<task>, e.g. domrand/lift)")  # fmt: skip
    g.add_argument("--lerobot-images", action="store_true",
                   help="store lossless PNG frames in the Parquet files instead of one MP4 per "
                   "camera (bigger; exact pixels; no video decoder needed to read)")  # fmt: skip
    g.add_argument("--lerobot-privileged", action="store_true",
                   help="also store the task's full state (object, goal) as "
                   "observation.environment_state (a state policy's input; leave off for "
                   "pixel policies)")  # fmt: skip


def check_lerobot_flags(args: argparse.Namespace) -> None:
    """Refuse LeRobot flags given without ``--record-lerobot``."""
    given = [
        f"--{k.replace('_', '-')}" for k in LEROBOT_ONLY if getattr(args, k) not in (None, False)
    ]
    if given:
        raise ValueError(f"{', '.join(given)}: only with --record-lerobot DIR")


def rerun_viewer(args: argparse.Namespace, config: RolloutConfig) -> Any:
    """``--rerun`` / ``--rerun-save``: a logger for ``run_rollouts(on_step=...)`` (None
    without them); one env only, checked before any episode."""
    if not (args.rerun or args.rerun_save):
        return None
    from agents.viz.rerun_log import RerunLogger, check_rrd_path, import_rerun, open_recording

    import_rerun()
    check_rrd_path(args.rerun_save)
    if config.num_envs != 1:
        raise ValueError("--rerun/--rerun-save log one env in this process; drop --num-envs")
    rec = open_recording(save=args.rerun_save, spawn=args.rerun, name=f"domrand {config.env_id}")
    return RerunLogger(rec, config.env_id)


def record_lerobot(
    args: argparse.Namespace, *, localizers: dict[str, str], default_image_size: int
) -> int:
    """``--record-lerobot DIR``: run the episodes and write them; prints the rollout summary
    and where the dataset is. Errors propagate to the command's ``main``."""
    from agents.policies.contract import is_checkpoint
    from agents.recording.lerobot import LeRobotSettings, default_task, import_lerobot
    from agents.recording.lerobot import record_lerobot as record
    from envs.sim import PhysicsConfig

    import_lerobot()  # the missing extra first, before any check that builds an env
    if args.obs_mode not in (None, PIXEL_OBS_MODE):
        raise ValueError(
            f"--record-lerobot stores {PIXEL_OBS_MODE!r} observations; drop --obs-mode"
        )
    if args.video:
        raise ValueError("--record-lerobot writes no video file; drop --video")
    image_size = args.image_size  # a checkpoint's or the localizers' size when None
    if image_size is None and not (args.policy == "pixel-expert" or is_checkpoint(args.policy)):
        image_size = default_image_size
    env_kwargs: dict[str, Any] = {
        **({"randomization": args.preset} if args.preset else {}),
        **scene_kwargs(args),
    }
    config = RolloutConfig(  # validates env, policy, episodes, image size and preset up front
        env_id=args.env_id, episodes=args.episodes, policy=args.policy, obs_mode=PIXEL_OBS_MODE,
        seed=args.seed, image_size=image_size, num_envs=args.num_envs, env_kwargs=env_kwargs,
        localizers=localizers,
    )  # fmt: skip
    name = args.env_id.split("/")[-1].split("-")[0].lower()
    settings = LeRobotSettings(
        env_id=config.env_id, env_kwargs=json.loads(json.dumps(env_kwargs)), policy=config.policy,
        seed=config.seed, image_size=int(config.image_size or default_image_size),
        task=args.task or default_task(config.env_id),
        fps=round(1.0 / PhysicsConfig().control_dt), repo_id=args.repo_id or f"domrand/{name}",
        video=not args.lerobot_images, privileged_state=args.lerobot_privileged,
    )  # fmt: skip
    viewer = rerun_viewer(args, config)
    try:
        out = record(config, args.record_lerobot, settings, resume=args.resume,
                     overwrite=args.overwrite, progress=not args.no_progress, on_step=viewer)  # fmt: skip
    finally:
        if viewer is not None:
            viewer.rec.flush()
    line = (f"recorded {len(out.results)} episodes ({sum(r.length for r in out.results)} frames) "
            f"into the LeRobot dataset {args.record_lerobot!r} ({out.episodes} episodes, "
            f"{out.frames} frames in all)")  # fmt: skip
    if args.json:
        print(json.dumps({**out.summary.as_dict(), "lerobot_dataset": args.record_lerobot,
                          "dataset_episodes": out.episodes, "dataset_frames": out.frames}))  # fmt: skip
    else:
        print(out.summary.table())
        print(f"\n{line}")
    return 0


def evaluate_lerobot(args: argparse.Namespace) -> int:
    """``--lerobot-policy DIR``: the policy's episodes (seeded as every rollout), the summary
    and its success interval."""
    from agents.experiments.evaluation import wilson_interval
    from agents.recording.lerobot_policy import evaluate_lerobot_policy

    if args.record_lerobot or args.rerun or args.rerun_save or args.video or args.num_envs != 1:
        raise ValueError("--lerobot-policy runs alone: drop --record-lerobot, --rerun, "
                         "--video and --num-envs")  # fmt: skip
    env_kwargs: dict[str, Any] = {
        **({"randomization": args.preset} if args.preset else {}),
        **scene_kwargs(args),
    }
    summary, results = evaluate_lerobot_policy(
        args.lerobot_policy, args.env_id, episodes=args.episodes, seed=args.seed,
        env_kwargs=env_kwargs, progress=not args.no_progress,
    )  # fmt: skip
    wins = sum(r.success for r in results)
    low, high = wilson_interval(wins, len(results))
    if args.json:
        print(json.dumps({**summary.as_dict(), "success_interval": [low, high]}))
    else:
        print(summary.table())
        print(
            f"\nsuccess {wins}/{len(results)} = {wins / len(results):.2f} [{low:.2f}, {high:.2f}] "
            "(Wilson 95%)"
        )
    return 0
