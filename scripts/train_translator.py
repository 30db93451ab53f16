#!/usr/bin/env python
"""``python scripts/train_translator.py`` = ``domrand train-translator`` (the code: agents/cli/train_translator.py)."""

from agents.cli.train_translator import main

if __name__ == "__main__":
    raise SystemExit(main())
