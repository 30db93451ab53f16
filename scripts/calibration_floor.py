#!/usr/bin/env python
"""``python scripts/calibration_floor.py`` = ``domrand calibration-floor`` (the code: agents/cli/calibration_floor.py)."""

from agents.cli.calibration_floor import main

if __name__ == "__main__":
    raise SystemExit(main())
