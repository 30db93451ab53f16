#!/usr/bin/env python
"""``python scripts/train_policy.py`` = ``domrand train-policy`` (the code: agents/cli/train_policy.py)."""

from agents.cli.train_policy import main

if __name__ == "__main__":
    raise SystemExit(main())
