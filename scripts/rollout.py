#!/usr/bin/env python
"""``python scripts/rollout.py`` = ``domrand rollout`` (the code: agents/cli/rollout.py)."""

from agents.cli.rollout import main

if __name__ == "__main__":
    raise SystemExit(main())
