#!/usr/bin/env python
"""``python scripts/sample_gan.py`` = ``domrand sample-gan`` (the code: agents/cli/sample_gan.py)."""

from agents.cli.sample_gan import main

if __name__ == "__main__":
    raise SystemExit(main())
