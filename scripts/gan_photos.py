#!/usr/bin/env python
"""``python scripts/gan_photos.py`` = ``domrand gan-photos`` (the code: agents/cli/gan_photos.py)."""

from agents.cli.gan_photos import main

if __name__ == "__main__":
    raise SystemExit(main())
