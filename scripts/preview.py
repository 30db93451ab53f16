#!/usr/bin/env python
"""``python scripts/preview.py`` = ``domrand preview`` (the code: agents/cli/preview.py)."""

from agents.cli.preview import main

if __name__ == "__main__":
    raise SystemExit(main())
