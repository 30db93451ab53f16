#!/usr/bin/env python
"""``python scripts/gan_quality.py`` = ``domrand gan-quality`` (the code: agents/cli/gan_quality.py)."""

from agents.cli.gan_quality import main

if __name__ == "__main__":
    raise SystemExit(main())
