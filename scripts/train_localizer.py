#!/usr/bin/env python
"""``python scripts/train_localizer.py`` = ``domrand train-localizer`` (the code: agents/cli/train_localizer.py)."""

from agents.cli.train_localizer import main

if __name__ == "__main__":
    raise SystemExit(main())
