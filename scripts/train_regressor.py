#!/usr/bin/env python
"""``python scripts/train_regressor.py`` = ``domrand train-regressor`` (the code: agents/cli/train_regressor.py)."""

from agents.cli.train_regressor import main

if __name__ == "__main__":
    raise SystemExit(main())
