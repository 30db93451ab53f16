#!/usr/bin/env python
"""``python scripts/balance_rare_events.py`` = ``domrand balance`` (the code: agents/cli/balance.py)."""

from agents.cli.balance import main

if __name__ == "__main__":
    raise SystemExit(main())
