#!/usr/bin/env python
"""``python scripts/train_verifier.py`` = ``domrand train-verifier`` (the code: agents/cli/train_verifier.py)."""

from agents.cli.train_verifier import main

if __name__ == "__main__":
    raise SystemExit(main())
