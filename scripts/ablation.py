#!/usr/bin/env python
"""``python scripts/ablation.py`` = ``domrand ablation`` (the code: agents/cli/ablation.py)."""

from agents.cli.ablation import main

if __name__ == "__main__":
    raise SystemExit(main())
