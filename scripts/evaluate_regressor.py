#!/usr/bin/env python
"""``python scripts/evaluate_regressor.py`` = ``domrand evaluate-regressor`` (the code: agents/cli/evaluate_regressor.py)."""

from agents.cli.evaluate_regressor import main

if __name__ == "__main__":
    raise SystemExit(main())
