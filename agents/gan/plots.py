"""Pictures of GAN training: the loss curve (matplotlib, through :mod:`agents.plots`).
Sample grids come from :func:`randomizers.image_grid.image_grid`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from agents.plots import line_chart


def smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (window clipped at the start)."""
    return _moving(values, window)[0]


def _moving(values: list[float], window: int) -> tuple[np.ndarray, np.ndarray]:
    """Trailing moving mean and standard deviation (window clipped at the start)."""
    v = np.asarray(values, np.float64)
    if len(v) == 0 or window <= 1:
        return v, np.zeros_like(v)
    c = np.concatenate([[0.0], np.cumsum(v)])
    c2 = np.concatenate([[0.0], np.cumsum(v * v)])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - window)
    n = idx - lo
    mean = (c[idx] - c[lo]) / n
    var = np.maximum((c2[idx] - c2[lo]) / n - mean * mean, 0.0)
    return mean, np.sqrt(var)


def loss_curve(
    curves: dict[str, list[float]], size: tuple[int, int] = (720, 360), window: int = 50,
    title: str = "GAN losses (moving average)",
) -> Image.Image:  # fmt: skip
    """Each named loss per step, averaged over the last ``window`` steps, with a band of
    ± its moving standard deviation (the step-to-step spread)."""
    stats = {k: _moving(v, window) for k, v in curves.items() if len(v)}
    return line_chart(
        {k: m for k, (m, _) in stats.items()},
        spread={k: s for k, (_, s) in stats.items()} if window > 1 else None,
        spread_label=f"± 1 std over {window} steps",
        title=title, xlabel="step", ylabel="loss", size=size,
    )  # fmt: skip


__all__ = ["loss_curve", "smooth"]
