"""``python -m agents.cli`` = the ``domrand`` console command."""

from agents.cli import main

raise SystemExit(main())
