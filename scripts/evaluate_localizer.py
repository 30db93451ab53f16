#!/usr/bin/env python
"""``python scripts/evaluate_localizer.py`` = ``domrand evaluate-localizer`` (the code: agents/cli/evaluate_localizer.py)."""

from agents.cli.evaluate_localizer import main

if __name__ == "__main__":
    raise SystemExit(main())
