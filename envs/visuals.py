"""Visual detail: the Panda's stock visual meshes (282k lines of OBJ) or low-poly ones.

``low`` rewrites ``pybullet_data``'s ``panda.urdf`` so every visual uses the link's
collision mesh (14k lines in all) and caches the result in the user's cache folder; no
``pybullet_data`` file is copied. Rendering time at small image sizes is dominated by
mesh detail, and labels stay exact because they come from whatever is rendered.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pybullet_data

VISUAL_DETAILS = ("low", "full")
PANDA = "franka_panda/panda.urdf"


def cache_dir() -> Path:
    """``$DOMRAND_CACHE``, else ``$XDG_CACHE_HOME/domrand``, else ``~/.cache/domrand``."""
    if os.environ.get("DOMRAND_CACHE"):
        return Path(os.environ["DOMRAND_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "domrand"


def low_poly_urdf(source: str) -> str:
    """URDF text with each visual mesh replaced by the same link's collision mesh and
    package paths made absolute."""
    root = Path(pybullet_data.getDataPath()) / "franka_panda"

    def visual_to_collision(match: re.Match[str]) -> str:
        name = match.group(1)
        return f'filename="{root / "meshes" / "collision" / name}"'

    text = re.sub(r'filename="package://meshes/visual/([^"]+)"', visual_to_collision, source)
    return text.replace('filename="package://', f'filename="{root}/')


def panda_urdf(visual_detail: str = "low") -> str:
    """Path of the Panda URDF for ``visual_detail`` (``low`` is generated on first use)."""
    if visual_detail not in VISUAL_DETAILS:
        raise ValueError(
            f"unknown visual_detail {visual_detail!r}; allowed: {', '.join(VISUAL_DETAILS)}"
        )
    source_path = Path(pybullet_data.getDataPath()) / PANDA
    if visual_detail == "full":
        return str(source_path)
    source = source_path.read_text()
    text = low_poly_urdf(source)
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = cache_dir() / f"panda_low_{digest}.urdf"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)  # atomic: parallel workers never read a half-written file
    return str(path)
