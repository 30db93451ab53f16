#!/usr/bin/env python
"""``python scripts/robustness.py`` = ``domrand robustness`` (the code: agents/cli/robustness.py)."""

from agents.cli.robustness import main

if __name__ == "__main__":
    raise SystemExit(main())
