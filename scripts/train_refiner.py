#!/usr/bin/env python
"""``python scripts/train_refiner.py`` = ``domrand train-refiner`` (the code: agents/cli/train_refiner.py)."""

from agents.cli.train_refiner import main

if __name__ == "__main__":
    raise SystemExit(main())
