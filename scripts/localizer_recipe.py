#!/usr/bin/env python
"""``python scripts/localizer_recipe.py`` = ``domrand localizer-recipe`` (the code: agents/cli/localizer_recipe.py)."""

from agents.cli.localizer_recipe import main

if __name__ == "__main__":
    raise SystemExit(main())
