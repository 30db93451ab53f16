#!/usr/bin/env python
"""``python scripts/export_dataset.py`` = ``domrand export`` (the code: agents/cli/export.py)."""

from agents.cli.export import main

if __name__ == "__main__":
    raise SystemExit(main())
