#!/usr/bin/env python
"""``python scripts/benchmark.py`` = ``domrand benchmark`` (the code: agents/cli/benchmark.py)."""

from agents.cli.benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
