#!/usr/bin/env python
"""``python scripts/train_bc.py`` = ``domrand train-bc`` (the code: agents/cli/train_bc.py)."""

from agents.cli.train_bc import main

if __name__ == "__main__":
    raise SystemExit(main())
