"""docs/RELIABILITY.md names only tests that exist (parametrize ids included), and at least
80 bad inputs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REF = re.compile(r"`(tests/[\w/]+\.py::\w+(?:\[[^\]`]*\])?)`")


def test_every_case_row_names_an_existing_test() -> None:
    doc = (ROOT / "docs" / "RELIABILITY.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| ") and "::" in line]
    assert len(rows) >= 80, f"docs/RELIABILITY.md lists {len(rows)} cases; the promise is >= 80"
    assert all(REF.search(line) for line in rows), "every case row names its test"
    refs = set(REF.findall(doc))
    files = sorted({r.split("::")[0] for r in refs})
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "", "-p", "no:cacheprovider",
         *files],
        cwd=ROOT, capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    ids = {line for line in collected if "::" in line}
    missing = sorted(
        r for r in refs if r not in ids and not any(i.startswith(r + "[") for i in ids)
    )
    assert not missing, f"docs/RELIABILITY.md names tests that do not exist: {missing}"
