"""The error raised for malformed presets and params."""

from __future__ import annotations


class PresetError(ValueError):
    """A randomization preset or a params dict does not match what is allowed.

    The message names where (file and key path), what was expected and what was received.
    """
