#!/usr/bin/env python
"""``python scripts/train_gan.py`` = ``domrand train-gan`` (the code: agents/cli/train_gan.py)."""

from agents.cli.train_gan import main

if __name__ == "__main__":
    raise SystemExit(main())
