"""Small charts drawn with Pillow (no matplotlib needed): grouped bars, line curves and
top-view scatter plots of predicted vs true positions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image, ImageDraw

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]  # fmt: skip


def _nice_max(value: float) -> float:
    if not np.isfinite(value) or value <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(value))
    for m in (1, 2, 2.5, 5, 10):
        if value <= m * exp:
            return float(m * exp)
    return float(10 * exp)


def bar_chart(
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 420),
) -> Image.Image:
    """Grouped bars: one group per entry of ``groups``, one bar per series (a legend entry)."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, 180, 50, 60
    values = [v for vs in series.values() for v in vs if np.isfinite(v)]
    ymax = _nice_max(max(values, default=1.0))
    plot_w, plot_h = w - left - right, h - top - bottom
    d.text((left, 8), title, fill="black")
    for k in range(6):
        y = top + plot_h - plot_h * k / 5
        d.line([(left, y), (left + plot_w, y)], fill=(225, 225, 225))
        d.text((8, y - 6), f"{ymax * k / 5:g}", fill="black")
    d.text((8, top - 20), ylabel, fill="black")
    n_series = max(len(series), 1)
    group_w = plot_w / max(len(groups), 1)
    bar_w = group_w * 0.8 / n_series
    for g, name in enumerate(groups):
        x0 = left + g * group_w + group_w * 0.1
        for s, vs in enumerate(series.values()):
            v = vs[g]
            if not np.isfinite(v):
                continue
            bh = plot_h * min(v, ymax) / ymax
            xa = x0 + s * bar_w
            d.rectangle([xa, top + plot_h - bh, xa + bar_w - 2, top + plot_h],
                        fill=PALETTE[s % len(PALETTE)])  # fmt: skip
            d.text((xa, top + plot_h - bh - 12), f"{v:.1f}", fill="black")
        d.text((x0, top + plot_h + 8 + 14 * (g % 2)), name, fill="black")  # staggered
    d.line([(left, top + plot_h), (left + plot_w, top + plot_h)], fill="black")
    for s, label in enumerate(series):
        y = top + 10 + 18 * s
        d.rectangle([w - right + 10, y, w - right + 22, y + 12], fill=PALETTE[s % len(PALETTE)])
        d.text((w - right + 28, y), label, fill="black")
    return img


def line_chart(
    curves: Mapping[str, Sequence[float]],
    *,
    title: str = "",
    xlabel: str = "",
    size: tuple[int, int] = (640, 360),
) -> Image.Image:
    """Curves over their index (epochs, steps), each scaled to the shared y range."""
    w, h = size
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    left, right, top, bottom = 60, 20, 40, 40
    values = [v for vs in curves.values() for v in vs if np.isfinite(v)]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    pw, ph = w - left - right, h - top - bottom
    d.text((left, 8), title, fill="black")
    for k in range(5):
        y = top + ph - ph * k / 4
        d.line([(left, y), (left + pw, y)], fill=(225, 225, 225))
        d.text((4, y - 6), f"{lo + (hi - lo) * k / 4:.3g}", fill="black")
    for s, (label, vs) in enumerate(curves.items()):
        n = len(vs)
        pts = [
            (left + pw * i / max(n - 1, 1), top + ph - ph * (v - lo) / (hi - lo))
            for i, v in enumerate(vs)
            if np.isfinite(v)
        ]
        color = PALETTE[s % len(PALETTE)]
        if len(pts) > 1:
            d.line(pts, fill=color, width=2)
        d.text((left + 10 + 150 * s, 22), label, fill=color)
    d.text((left + pw // 2, h - 20), xlabel, fill="black")
    return img


def scatter_xy(
    true_xy: np.ndarray,
    pred_xy: np.ndarray,
    *,
    title: str = "",
    size: int = 480,
) -> Image.Image:
    """Top view: true positions (dots) joined to predictions (crosses) by error lines."""
    img = Image.new("RGB", (size, size + 30), "white")
    d = ImageDraw.Draw(img)
    allp = np.concatenate([true_xy, pred_xy])
    lo, hi = allp.min(0), allp.max(0)
    span = float(max(hi - lo)) * 1.1 + 1e-6
    centre = (lo + hi) / 2

    def px(p: np.ndarray) -> tuple[float, float]:
        # robot frame: x forward (up in the picture), y left (left in the picture)
        u = (centre[1] - p[1]) / span + 0.5
        v = (centre[0] - p[0]) / span + 0.5
        return 10 + u * (size - 20), 40 + v * (size - 20)

    d.text((10, 8), title, fill="black")
    for t, p in zip(true_xy, pred_xy, strict=True):
        d.line([px(t), px(p)], fill=(214, 39, 40))
    for t in true_xy:
        x, y = px(t)
        d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(31, 119, 180))
    for p in pred_xy:
        x, y = px(p)
        d.line([(x - 2, y - 2), (x + 2, y + 2)], fill=(44, 160, 44))
        d.line([(x - 2, y + 2), (x + 2, y - 2)], fill=(44, 160, 44))
    d.text((10, size + 12), f"blue: true, green: predicted, red: error; span {span:.2f} m",
           fill="black")  # fmt: skip
    return img
