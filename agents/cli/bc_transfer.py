"""Image behaviour cloning with and without visual randomization, evaluated on the held-out
``target`` domain: records expert demonstrations (Minari), trains the same BC network on
each, and writes ``table.md`` and ``results.json`` into ``--out``.

Example (the README's table):
    python scripts/bc_transfer.py --out runs/bc_transfer
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.experiments.bc_transfer import TransferConfig, run_transfer
from agents.outputs import check_output_dir


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command's flags."""
    d = TransferConfig()
    p = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--out", default=d.out)
    p.add_argument("--tasks", default=",".join(d.tasks), help="comma-separated env ids")
    p.add_argument("--demos", default=",".join(map(str, d.demos)),
                   help="expert episodes per task (comma-separated, one per task)")  # fmt: skip
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes)
    p.add_argument("--image-size", type=int, default=d.image_size)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Entry point."""
    args = build_parser(prog).parse_args(argv)
    try:
        try:
            demos = tuple(int(x) for x in args.demos.split(","))
        except ValueError:
            raise ValueError(
                f"--demos expects comma-separated episode counts, one per task (e.g. 300,200), "
                f"got {args.demos!r}"
            ) from None
        config = TransferConfig(
            out=args.out, tasks=tuple(t for t in args.tasks.split(",") if t), demos=demos,
            eval_episodes=args.eval_episodes, image_size=args.image_size, epochs=args.epochs,
            seed=args.seed,
        )  # fmt: skip
        check_output_dir(args.out)
    except (ValueError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    results = run_transfer(config, progress=not args.no_progress)
    print()
    print((Path(config.out) / "table.md").read_text())
    print(f"wall time {results['wall_s'] / 60:.1f} min")
    return 0

