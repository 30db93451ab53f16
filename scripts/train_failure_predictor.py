#!/usr/bin/env python
"""``python scripts/train_failure_predictor.py`` = ``domrand train-failure-predictor`` (the code: agents/cli/train_failure_predictor.py)."""

from agents.cli.train_failure_predictor import main

if __name__ == "__main__":
    raise SystemExit(main())
