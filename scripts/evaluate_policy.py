#!/usr/bin/env python
"""``python scripts/evaluate_policy.py`` = ``domrand evaluate-policy`` (the code: agents/cli/evaluate_policy.py)."""

from agents.cli.evaluate_policy import main

if __name__ == "__main__":
    raise SystemExit(main())
