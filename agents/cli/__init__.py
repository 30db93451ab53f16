"""``domrand``: one console command; each subcommand is one module of this package.

``domrand rollout ...`` runs :func:`agents.cli.rollout.main`, the same function that
``python scripts/rollout.py ...`` runs. A subcommand whose optional dependencies are
missing ends with one line naming the extra to install, and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

import envs.sim  # noqa: F401  # loads PyBullet first, its build banner kept off stdout

# command -> one-line summary; the command's code is agents/cli/<command with "_" for "-">.py
COMMANDS: dict[str, str] = {
    "rollout": "run episodes of a policy: success, return, events",
    "export": "export a randomized, labelled image dataset",
    "preview": "grid of randomized frames, or an export's contact sheet",
    "benchmark": "env throughput next to raw PyBullet on the same scene",
    "train-policy": "train a Stable-Baselines3 policy (SAC or PPO)",
    "evaluate-policy": "success rate of a policy checkpoint",
    "robustness": "nominal- vs physics-trained policies, shifted dynamics",
    "train-bc": "train image behaviour cloning on a Minari dataset",
    "bc-transfer": "behaviour cloning with and without visual randomization",
    "train-dagger": "distil the scripted expert into a visuomotor policy",
    "train-localizer": "train the heatmap object localizer on an export",
    "train-verifier": "train a verifier that re-ranks a localizer's peaks",
    "train-refiner": "train a refiner that moves a localizer's answer at full resolution",
    "localizer-recipe": "the 128 px localizer recipe end to end, timed",
    "evaluate-localizer": "localizer position error (cm) on exports",
    "calibration-floor": "the error a held-out camera alone sets",
    "train-regressor": "train the vision pose regressor on an export",
    "evaluate-regressor": "pose regressor error (cm) on an export",
    "ablation": "Tobin et al. Table II in simulation",
    "balance": "balance a rare event by SMOTE in parameter space",
    "train-failure-predictor": "event predictor with and without SMOTE",
    "gan-photos": "write the appearance GAN's demo training photos",
    "collect-frames": "unlabelled frames of a held-out domain (stand-in photos)",
    "train-translator": "train the CUT image translator toward target frames",
    "translate-export": "translate an export's images; geometry and KID check",
    "train-gan": "train the appearance GAN on a folder of images",
    "sample-gan": "write textures from a trained appearance GAN",
    "gan-quality": "score an appearance GAN against real crops",
}

# top-level module -> (its name for people, the extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("PyTorch", "learn"),
    "matplotlib": ("matplotlib", "learn"),
    "stable_baselines3": ("Stable-Baselines3", "rl"),
    "tensorboard": ("TensorBoard", "rl"),
    "pycocotools": ("pycocotools", "dataset"),
    "minari": ("Minari", "offline"),
    "imblearn": ("imbalanced-learn", "balance"),
    "sklearn": ("scikit-learn", "balance"),
    "ray": ("Ray", "ray"),
    "imageio": ("imageio", "video"),
    "imageio_ffmpeg": ("imageio-ffmpeg", "video"),
}


# commands whose extra installs more than the module that is missing (rl includes learn)
COMMAND_EXTRA: dict[str, str] = {"train-policy": "rl", "robustness": "rl"}
INCLUDES: dict[str, set[str]] = {"rl": {"learn", "rl"}}


def module_name(command: str) -> str:
    """The module holding ``command``'s ``build_parser`` and ``main``."""
    return f"agents.cli.{command.replace('-', '_')}"


def load(command: str) -> ModuleType:
    """Import ``command``'s module (its optional dependencies may be missing)."""
    return importlib.import_module(module_name(command))


def missing_extra(exc: BaseException, command: str | None = None) -> str | None:
    """The one-line error when ``exc`` comes from an optional dependency that is not
    installed (directly, or as the cause of a library's own ImportError), else None;
    it names the extra ``command`` needs when that one includes the missing module's."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ModuleNotFoundError) and seen.name:
            found = EXTRAS.get(seen.name.partition(".")[0])
            if found is not None:
                what, extra = found
                wanted = COMMAND_EXTRA.get(command or "", extra)
                extra = wanted if extra in INCLUDES.get(wanted, ()) else extra
                return f"error: this command needs {what}: pip install 'domrand[{extra}]'"
        seen = seen.__cause__ or seen.__context__
    return None


def build_parser() -> argparse.ArgumentParser:
    """``domrand``'s own parser: the list of commands (each command parses its own flags)."""
    width = max(map(len, COMMANDS)) + 2
    listing = "\n".join(f"  {name:<{width}}{summary}" for name, summary in COMMANDS.items())
    p = argparse.ArgumentParser(
        prog="domrand",
        usage="%(prog)s [-h] COMMAND ...",
        description="Domain randomization for robot learning: environments, datasets, training.",
        epilog=f"commands:\n{listing}\n\nRun `domrand COMMAND --help` for a command's flags.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("command", metavar="COMMAND", choices=list(COMMANDS), help="one of the below")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``domrand`` console command."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        # the help, or the usage and an error naming the unknown command; exits
        build_parser().parse_args(args[:1] if args and not args[0].startswith("-") else args)
        return 2
    command, rest = args[0], args[1:]
    try:
        return int(load(command).main(rest, prog=f"domrand {command}"))
    except ImportError as exc:
        line = missing_extra(exc, command)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2
