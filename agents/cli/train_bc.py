"""Train an image behaviour-cloning policy (RGB + proprioception) on a Minari dataset of
expert demonstrations; the checkpoint runs with ``scripts/rollout.py --policy CKPT``.

Example:
    python scripts/rollout.py --env domrand/Reach-v0 --policy expert --episodes 300 \
        --preset tobin --image-size 64 --record domrand/reach-expert-tobin-v0
    python scripts/train_bc.py --dataset domrand/reach-expert-tobin-v0 --out runs/reach_bc.pt
    python scripts/rollout.py --env domrand/Reach-v0 --policy runs/reach_bc.pt --preset target
"""

from __future__ import annotations

import argparse
import json
import sys

from agents.demos import load_demonstrations
from agents.outputs import check_output_file
from agents.plots import line_chart
from agents.policies.bc import OBS_MODE, BCConfig, check_bc_image_size, save_bc, train_bc
from agents.policies.contract import PolicyMeta


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = BCConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--dataset", required=True, help="Minari dataset id (recorded with --record)")
    p.add_argument(
        "--out", required=True,
        help="checkpoint path (.pt); an existing behaviour-cloning checkpoint there is\n"
        "replaced, any other existing file is kept unless --force",
    )  # fmt: skip
    p.add_argument("--force", action="store_true", help="replace whatever file --out names")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--width", type=int, default=d.width)
    p.add_argument("--shift", type=int, default=d.shift, help="random-shift augmentation (px)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        config = BCConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          width=args.width, shift=args.shift, seed=args.seed)  # fmt: skip
        check_output_file(args.out, kind="bc", suffixes=(".pt",), force=args.force)
        demos = load_demonstrations(args.dataset)
        check_bc_image_size(int(demos.images.shape[-1]))
    except (ValueError, FileNotFoundError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    meta = PolicyMeta(kind="bc", algo="bc", env_id=demos.env_id, preset=demos.preset,
                      obs_mode=OBS_MODE, image_size=int(demos.images.shape[-1]),
                      extra={"dataset": args.dataset})  # fmt: skip
    policy = train_bc(demos, config, meta, progress=not args.no_progress)
    path = save_bc(policy, args.out)
    line_chart({"train loss": policy.history["loss"]}, title="behaviour cloning loss",
               xlabel="epoch", ylabel="MSE").save(path.with_suffix(".curve.png"))  # fmt: skip
    print(json.dumps({"checkpoint": str(path), "steps": int(demos.images.shape[0]),
                      "episodes": demos.episodes, "final_loss": policy.history["loss"][-1],
                      "seconds": policy.meta.extra["train_seconds"]}))  # fmt: skip
    return 0

