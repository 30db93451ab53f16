#!/usr/bin/env python
"""``python scripts/collect_frames.py`` = ``domrand collect-frames`` (the code: agents/cli/collect_frames.py)."""

from agents.cli.collect_frames import main

if __name__ == "__main__":
    raise SystemExit(main())
