"""Pictures of GAN training with Pillow only (matplotlib is not a dependency): a grid of
samples and a loss curve."""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189))


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> Image.Image:
    """(n, h, w, 3) uint8 -> one image, ``cols`` per row (default: square), white gaps."""
    n, h, w = images.shape[:3]
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = im
    return Image.fromarray(canvas)


def smooth(values: list[float], window: int) -> np.ndarray:
    """Trailing moving average (window clipped at the start)."""
    v = np.asarray(values, np.float64)
    if len(v) == 0 or window <= 1:
        return v
    c = np.concatenate([[0.0], np.cumsum(v)])
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - window)
    return (c[idx] - c[lo]) / (idx - lo)


def loss_curve(
    curves: dict[str, list[float]], size: tuple[int, int] = (720, 360), window: int = 50,
    title: str = "GAN losses (moving average)",
) -> Image.Image:  # fmt: skip
    """A line chart of each named loss per step, smoothed over ``window`` steps."""
    width, height = size
    left, right, top, bottom = 60, 20, 30, 40
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    series = {k: smooth(v, window) for k, v in curves.items() if len(v)}
    steps = max((len(v) for v in series.values()), default=1)
    values = np.concatenate(list(series.values())) if series else np.zeros(1)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 1.0, hi + 1.0
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)

    def xy(i: float, v: float) -> tuple[float, float]:
        x = left + (width - left - right) * (i / max(steps - 1, 1))
        y = top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))
        return x, y

    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for k in range(5):  # y ticks
        tick = lo + (hi - lo) * k / 4
        _, y = xy(0, tick)
        draw.line([left - 4, y, left, y], fill="black")
        draw.text((4, y - 6), f"{tick:.2f}", fill="black")
    for k in range(5):  # x ticks
        i = (steps - 1) * k / 4
        x, _ = xy(i, lo)
        draw.line([x, height - bottom, x, height - bottom + 4], fill="black")
        draw.text((x - 12, height - bottom + 8), f"{round(i) + 1}", fill="black")
    draw.text((width // 2 - 15, height - 16), "step", fill="black")
    draw.text((left, 8), title, fill="black")
    for n, (name, v) in enumerate(series.items()):
        color = COLORS[n % len(COLORS)]
        stride = max(1, len(v) // 2000)
        pts = [xy(i, float(v[i])) for i in range(0, len(v), stride)]
        if len(pts) > 1:
            draw.line(pts, fill=color, width=2)
        lx = width - right - 120
        ly = top + 8 + 16 * n
        draw.line([lx, ly + 6, lx + 20, ly + 6], fill=color, width=2)
        draw.text((lx + 26, ly), name, fill="black")
    return img


__all__ = ["image_grid", "loss_curve", "smooth"]
