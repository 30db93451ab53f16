#!/usr/bin/env python
"""``python scripts/translate_export.py`` = ``domrand translate-export`` (the code: agents/cli/translate_export.py)."""

from agents.cli.translate_export import main

if __name__ == "__main__":
    raise SystemExit(main())
