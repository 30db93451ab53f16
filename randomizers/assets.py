"""Where the project's shipped assets (presets, textures, GAN and model checkpoints) live.

One function answers for every package: an installed wheel carries them as
``randomizers/_assets``; a source checkout (or an editable install) keeps them in
``assets/`` beside the packages. Found with :mod:`importlib.resources`, so no package
needs to know another's location.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGED = "_assets"  # the wheel's copy, inside this package


def asset_dir() -> Path:
    """The assets folder (``presets/``, ``textures/``, ``gan/``, ``models/``)."""
    root = Path(str(files("randomizers")))
    for candidate in (root / PACKAGED, root.parent / "assets"):
        if (candidate / "presets").is_dir():
            return candidate
    raise FileNotFoundError(
        f"the assets folder is missing from this installation (looked in {root / PACKAGED} "
        f"and {root.parent / 'assets'}); reinstall domrand"
    )


__all__ = ["asset_dir"]
