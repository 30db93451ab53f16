r"""Train a Stable-Baselines3 policy (SAC or PPO) on a domrand env with a randomization preset.

The checkpoint (.zip) records env id, preset and obs mode; TensorBoard logs go next to it
(`<out>_tb/`, view with `tensorboard --logdir <out>_tb`).

Examples:
    python scripts/train_policy.py --env domrand/Push-v0 --algo sac --preset physics \
        --steps 50000 --num-envs 4 --demos 200 --pretrain-steps 5000 --bc-weight 1 \
        --out runs/push_physics.zip
    python scripts/train_policy.py --env domrand/Reach-v0 --algo ppo --preset none \
        --steps 100000 --num-envs 4 --hp n_steps=256 --out runs/reach_ppo.zip
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from agents.cli.args import EnvIdAction, env_help
from agents.outputs import check_output_file
from agents.rl.config import ALGOS, VEC_ENVS, TrainConfig
from agents.rl.hyperparams import HyperparamError, hyperparam_help
from agents.rl.train import train
from agents.vector import VectorEnvWorkerError
from envs.panda_env import OBS_MODES
from randomizers.errors import PresetError


def parse_hyperparams(items: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; values parse as YAML (numbers, lists, mappings, true/false,
    null). A dotted key sets one entry of a mapping: ``policy_kwargs.net_arch=[64,64]`` is
    ``policy_kwargs={net_arch: [64, 64]}``. Types and ranges are checked by
    :class:`agents.rl.TrainConfig` (:data:`agents.rl.HYPERPARAMS`)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        parts = key.strip().split(".")
        if not sep or not all(parts):
            raise ValueError(
                f"--hp expects KEY=VALUE (e.g. --hp gamma=0.98 or "
                f"--hp policy_kwargs.net_arch=[64,64]), got {item!r}"
            )
        try:
            parsed = yaml.safe_load(value)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: an int past str()'s limit
            detail = " ".join(str(exc).split())[:200]
            raise ValueError(
                f"--hp {key}: cannot parse {value[:80]!r} as YAML ({detail}); give a "
                "number, a [list] or a {mapping}, e.g. --hp gamma=0.98"
            ) from None
        target = out
        for depth, part in enumerate(parts[:-1]):
            inner = target.setdefault(part, {})
            if not isinstance(inner, dict):
                raise ValueError(
                    f"--hp {key}: {'.'.join(parts[: depth + 1])} was already given as "
                    f"{inner!r}, not a mapping; give it once, as a mapping or key by key"
                )
            target = inner
        target[parts[-1]] = parsed
    return out


HP_HELP = """override a Stable-Baselines3 hyperparameter (repeatable); VALUE is read as YAML:
  --hp learning_rate=3e-4 --hp gamma=0.98 --hp train_freq=[1,episode] --hp ent_coef=auto_0.1
policy_kwargs is a mapping, given whole or key by key (either replaces the default's):
  --hp 'policy_kwargs={net_arch: [64, 64]}'   or   --hp policy_kwargs.net_arch=[64,64]
each value is checked (type and range) before any env is built or demo collected:
"""


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--env", default="domrand/Push-v0", action=EnvIdAction, metavar="ENV",
                   help=env_help())  # fmt: skip
    p.add_argument("--algo", default="sac", choices=ALGOS, help="SB3 algorithm")
    p.add_argument(
        "--preset", default="none", help="randomization preset name or .yaml path (none: nominal)"
    )
    p.add_argument("--steps", type=int, default=100_000, help="training env steps")
    p.add_argument("--obs-mode", default="state", choices=OBS_MODES, help="observation mode")
    p.add_argument("--image-size", type=int, default=64, help="image size for image obs modes")
    p.add_argument("--num-envs", type=int, default=1, help="parallel training envs")
    p.add_argument("--vec-env", default="auto", choices=VEC_ENVS, help="vector env kind")
    p.add_argument("--seed", type=int, default=0, help="seed of envs, networks and demos")
    p.add_argument(
        "--demos", type=int, default=0, help="SAC: expert episodes prefilled in the replay buffer"
    )
    p.add_argument(
        "--pretrain-steps", type=int, default=0,
        help="SAC with demos: behaviour-cloning steps for the actor, then critic warm-up steps",
    )  # fmt: skip
    p.add_argument(
        "--bc-weight", type=float, default=0.0,
        help="SAC with demos: weight of the Q-filtered behaviour-cloning term during RL",
    )  # fmt: skip
    p.add_argument(
        "--hp", action="append", default=[], metavar="KEY=VALUE",
        help=HP_HELP + hyperparam_help(),
    )  # fmt: skip
    p.add_argument(
        "--out", default="runs/policy.zip",
        help="checkpoint path (.zip); an existing Stable-Baselines3 checkpoint there is\n"
        "replaced, any other existing file is kept unless --force",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--no-tensorboard", action="store_true", help="do not log to TensorBoard")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config = TrainConfig(
            env_id=args.env, algo=args.algo, preset=args.preset, steps=args.steps,
            obs_mode=args.obs_mode, image_size=args.image_size, num_envs=args.num_envs,
            seed=args.seed, out=args.out, vec_env=args.vec_env, demos=args.demos,
            pretrain_steps=args.pretrain_steps, bc_weight=args.bc_weight,
            hyperparams=parse_hyperparams(args.hp), tensorboard=not args.no_tensorboard,
        )  # fmt: skip
        check_output_file(args.out, kind="sb3", suffixes=(".zip",), force=args.force)
    except (ValueError, PresetError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = train(config, progress=not args.no_progress)
    except (ImportError, VectorEnvWorkerError, HyperparamError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = {
        "checkpoint": str(result.path),
        "tensorboard": str(config.tensorboard_dir()) if config.tensorboard else None,
        "env": config.env_id, "algo": config.algo, "preset": config.preset,
        "steps": result.steps, "seconds": round(result.seconds, 1),
        "steps_per_second": round(result.steps_per_second, 1),
    }  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        print(f"trained {result.meta.describe()}")
        print(f"{result.steps} steps in {result.seconds:.0f} s ({result.steps_per_second:.0f} steps/s)")
        print(f"checkpoint   {result.path}")
        if config.tensorboard:
            print(f"tensorboard  tensorboard --logdir {config.tensorboard_dir()}")
    return 0

