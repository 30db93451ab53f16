#!/usr/bin/env python
"""``python scripts/bc_transfer.py`` = ``domrand bc-transfer`` (the code: agents/cli/bc_transfer.py)."""

from agents.cli.bc_transfer import main

if __name__ == "__main__":
    raise SystemExit(main())
