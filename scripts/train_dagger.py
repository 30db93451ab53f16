#!/usr/bin/env python
"""``python scripts/train_dagger.py`` = ``domrand train-dagger`` (the code: agents/cli/train_dagger.py)."""

from agents.cli.train_dagger import main

if __name__ == "__main__":
    raise SystemExit(main())
