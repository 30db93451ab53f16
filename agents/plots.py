"""Charts drawn with matplotlib's Agg canvas: grouped bars with error bars, line curves with
optional spread bands and a second axis, and top views of predicted vs true positions on
the table.

No pyplot and no backend switch: every chart is a :class:`~matplotlib.figure.Figure` on its
own :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`, built under a fixed style
(matplotlib's defaults plus the settings below, whatever the user's ``matplotlibrc``
says), so the same inputs give the same pixels. ``*_figure`` functions return the figure
(to inspect or to save as PDF/SVG); ``bar_chart``, ``line_chart`` and ``scatter_xy``
return it rendered as a ``PIL.Image`` whose ``save`` writes PNG bytes that depend on the
inputs only (Pillow writes no time stamp or software chunk).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from matplotlib import style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from PIL import Image

from envs.scene import ROBOT_BASE, TABLE_CENTER, TABLE_HALF, Workspace

DPI = 100
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.grid": True,
    "grid.alpha": 0.35,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.9,
    "savefig.dpi": DPI,
    "path.simplify": False,
}
TABLE_STYLE: dict[str, Any] = {"edgecolor": "saddlebrown", "facecolor": "wheat", "linewidth": 2.0}
WORKSPACE_STYLE: dict[str, Any] = {
    "edgecolor": "dimgray",
    "facecolor": "none",
    "linewidth": 1.2,
    "linestyle": "--",
}

Values = Sequence[float] | np.ndarray
Errors = Sequence[float] | Sequence[Sequence[float]] | np.ndarray


@contextmanager
def _style() -> Iterator[None]:
    with style.context(["default", STYLE]):
        yield


def _figure(size: tuple[int, int]) -> Figure:
    w, h = size
    if w < 50 or h < 50:
        raise ValueError(f"chart size must be at least 50 x 50 px, got {w} x {h}")
    fig = Figure(figsize=(w / DPI, h / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _build(build: Callable[[], Figure]) -> Figure:
    with _style():
        return build()


def to_image(fig: Figure) -> Image.Image:
    """Render a figure made here to an RGB image of exactly its pixel size."""
    with _style():
        canvas = fig.canvas
        assert isinstance(canvas, FigureCanvasAgg), "figures of this module draw on Agg"
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(rgba[..., :3].copy())


def _series(groups: Sequence[str], series: Mapping[str, Values]) -> dict[str, np.ndarray]:
    out = {}
    for name, values in series.items():
        v = np.asarray(values, dtype=np.float64)
        if v.shape != (len(groups),):
            raise ValueError(
                f"bar_chart series {name!r} needs one value per group ({len(groups)}), "
                f"got shape {v.shape}"
            )
        out[name] = v
    return out


def _errors(name: str, values: Errors, n: int) -> np.ndarray:
    """Symmetric (n,) or lower/upper (2, n) error lengths, as matplotlib's ``yerr``."""
    e = np.asarray(values, dtype=np.float64)
    if e.shape not in ((n,), (2, n)):
        raise ValueError(
            f"bar_chart errors for {name!r} need shape ({n},) or (2, {n}) (one value, or a "
            f"lower and an upper length, per group), got {e.shape}"
        )
    if np.any(e[np.isfinite(e)] < 0):
        raise ValueError(f"bar_chart errors for {name!r} must be >= 0 (lengths), got {e.tolist()}")
    return np.where(np.isfinite(e), e, 0.0)


def bar_figure(
    groups: Sequence[str],
    series: Mapping[str, Values],
    *,
    errors: Mapping[str, Errors] | None = None,
    error_label: str = "",
    title: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 420),
) -> Figure:
    """Grouped bars: one group per entry of ``groups``, one bar per series (a legend entry).

    ``errors`` maps a series name to its error bar lengths: one per group (mean +- std) or
    a (2, groups) pair of lower and upper lengths (an asymmetric confidence interval);
    ``error_label`` names them in the legend (for example "± 1 std"). Non-finite values
    draw no bar.
    """
    data = _series(groups, series)
    errs = {}
    for name, e in (errors or {}).items():
        if name not in data:
            raise ValueError(f"bar_chart errors name unknown series {name!r}; series: {list(data)}")
        errs[name] = _errors(name, e, len(groups))

    def build() -> Figure:
        fig = _figure(size)
        ax = fig.add_subplot()
        x = np.arange(len(groups), dtype=np.float64)
        width = 0.8 / max(len(data), 1)
        for s, (name, v) in enumerate(data.items()):
            ok = np.isfinite(v)
            xs = x[ok] - 0.4 + width * (s + 0.5)
            yerr = errs.get(name)
            yerr = None if yerr is None else yerr[..., ok]
            bars = ax.bar(xs, v[ok], width * 0.92, yerr=yerr, capsize=3, label=name,
                          error_kw={"elinewidth": 1.0, "ecolor": "black"})  # fmt: skip
            top = v[ok] if yerr is None else v[ok] + (yerr if yerr.ndim == 1 else yerr[1])
            for bar, y, value in zip(bars, top, v[ok], strict=True):
                ax.annotate(f"{value:.1f}", (bar.get_x() + bar.get_width() / 2, max(y, 0.0)),
                            xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=7)  # fmt: skip
        if errs:
            ax.errorbar([], [], yerr=[], fmt="none", ecolor="black", capsize=3,
                        label=error_label or "error bars")  # fmt: skip
        ax.set_xticks(x, [textwrap.fill(g, 16) for g in groups])
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(bottom=0.0)
        ax.margins(y=0.12)
        if data:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
        return fig

    return _build(build)


def bar_chart(
    groups: Sequence[str],
    series: Mapping[str, Values],
    *,
    errors: Mapping[str, Errors] | None = None,
    error_label: str = "",
    title: str = "",
    ylabel: str = "",
    size: tuple[int, int] = (900, 420),
) -> Image.Image:
    """:func:`bar_figure` rendered to an image of ``size`` px."""
    return to_image(bar_figure(groups, series, errors=errors, error_label=error_label,
                               title=title, ylabel=ylabel, size=size))  # fmt: skip


def line_figure(
    curves: Mapping[str, Values],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    spread: Mapping[str, Values] | None = None,
    spread_label: str = "",
    right: Mapping[str, Values] | None = None,
    right_label: str = "",
    size: tuple[int, int] = (640, 360),
) -> Figure:
    """Curves over their index, counted from 1 (epochs, steps).

    ``spread`` maps a curve to a per-point spread (a std) drawn as a band of ± that much,
    named "<curve> <spread_label>" in the legend;
    ``right`` holds curves in other units, drawn against a second y axis labelled
    ``right_label``. Every curve is a legend entry.
    """
    for name, band in (spread or {}).items():
        if name not in curves or len(band) != len(curves[name]):
            raise ValueError(
                f"line_chart spread {name!r} needs a curve of that name and one value per "
                f"point; curves: {list(curves)}"
            )

    def build() -> Figure:
        fig = _figure(size)
        ax = fig.add_subplot()
        colours = iter(f"C{i}" for i in range(100))
        handles: list[Any] = []
        top = ax
        for axis, group in ((ax, curves), (None, right or {})):
            if not group:
                continue
            if axis is None:
                axis = top = ax.twinx()
                axis.grid(False)
                axis.set_ylabel(right_label)
            for name, values in group.items():
                v = np.asarray(values, dtype=np.float64)
                x = np.arange(1, len(v) + 1)
                colour = next(colours)
                marker = "o" if len(v) <= 30 else None
                (line,) = axis.plot(x, v, color=colour, marker=marker, markersize=3, label=name)
                handles.append(line)
                if axis is ax and spread and name in spread:
                    s = np.asarray(spread[name], dtype=np.float64)
                    band = axis.fill_between(x, v - s, v + s, color=colour, alpha=0.2,
                                             linewidth=0, label=f"{name} {spread_label or '± 1 std'}")  # fmt: skip
                    handles.append(band)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        if handles:  # on the top axes: the second axis' curves would cover it
            top.legend(handles=handles, loc="best")
        return fig

    return _build(build)


def line_chart(
    curves: Mapping[str, Values],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    spread: Mapping[str, Values] | None = None,
    spread_label: str = "",
    right: Mapping[str, Values] | None = None,
    right_label: str = "",
    size: tuple[int, int] = (640, 360),
) -> Image.Image:
    """:func:`line_figure` rendered to an image of ``size`` px."""
    return to_image(line_figure(curves, title=title, xlabel=xlabel, ylabel=ylabel,
                                spread=spread, spread_label=spread_label, right=right,
                                right_label=right_label, size=size))  # fmt: skip


def table_box(workspace: Workspace | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Low and high (x, y) corners, robot base frame (metres), of the table top and of the
    object workspace, read from :mod:`envs.scene`."""
    ws = workspace or Workspace()
    base = np.asarray(ROBOT_BASE[:2])
    centre, half = np.asarray(TABLE_CENTER), np.asarray(TABLE_HALF)
    return {
        "table": (centre - half - base, centre + half - base),
        "workspace": (np.asarray(ws.object_low) - base, np.asarray(ws.object_high) - base),
    }


def _top_view(ax: Any, true_xy: np.ndarray, pred_xy: np.ndarray, boxes: Mapping[str, Any],
              label: bool) -> None:  # fmt: skip
    """One top view: the robot at the bottom looking up the picture, its left on the left
    (horizontal axis: y, growing to the left; vertical axis: x)."""
    (tlo, thi), (wlo, whi) = boxes["table"], boxes["workspace"]
    ax.add_patch(Rectangle((tlo[1], tlo[0]), thi[1] - tlo[1], thi[0] - tlo[0], zorder=0,
                           label="table top" if label else None, gid="table", **TABLE_STYLE))  # fmt: skip
    ax.add_patch(Rectangle((wlo[1], wlo[0]), whi[1] - wlo[1], whi[0] - wlo[0], zorder=1,
                           label="object workspace" if label else None, gid="workspace",
                           **WORKSPACE_STYLE))  # fmt: skip
    ax.plot([0.0], [0.0], marker="s", markersize=7, color="black", linestyle="none",
            label="robot base" if label else None)  # fmt: skip
    segments = np.stack([true_xy[:, ::-1], pred_xy[:, ::-1]], axis=1)
    ax.add_collection(LineCollection(list(segments), colors="tab:red", linewidths=0.8,
                                     label="error" if label else None, zorder=2))  # fmt: skip
    ax.scatter(true_xy[:, 1], true_xy[:, 0], s=10, color="tab:blue", zorder=3,
               label="true" if label else None)  # fmt: skip
    ax.scatter(pred_xy[:, 1], pred_xy[:, 0], s=16, marker="x", linewidths=0.9,
               color="tab:green", zorder=4, label="predicted" if label else None)  # fmt: skip
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("y (m), robot's left to the left")
    ax.set_ylabel("x (m), forward")


def top_view_figure(
    true_xy: np.ndarray,
    pred_xy: np.ndarray,
    *,
    title: str = "",
    workspace: Workspace | None = None,
    size: tuple[int, int] = (960, 480),
) -> Figure:
    """Predicted vs true (x, y) positions in the robot base frame (metres), seen from above:
    the whole table (outline, object workspace, robot base) on the left, the workspace
    zoomed to the points on the right; a red line joins each true point to its prediction.
    """
    t = np.asarray(true_xy, dtype=np.float64)
    p = np.asarray(pred_xy, dtype=np.float64)
    if t.ndim != 2 or t.shape[1] != 2 or p.shape != t.shape:
        raise ValueError(
            f"scatter_xy needs true and predicted positions of shape (n, 2), got {t.shape} and "
            f"{p.shape}"
        )
    boxes = table_box(workspace)

    def build() -> Figure:
        fig = _figure(size)
        whole, zoom = fig.subplots(1, 2, width_ratios=(1, 1.6))
        _top_view(whole, t, p, boxes, label=True)
        _top_view(zoom, t, p, boxes, label=False)
        (tlo, thi), (wlo, whi) = boxes["table"], boxes["workspace"]
        pad = 0.03
        whole.set_xlim(thi[1] + pad, tlo[1] - pad)  # y grows to the left
        whole.set_ylim(tlo[0] - pad, thi[0] + pad)
        whole.set_title("table")
        finite = np.concatenate([t, p])
        finite = finite[np.isfinite(finite).all(axis=1)]
        lo = np.minimum(wlo, finite.min(0)) if len(finite) else wlo
        hi = np.maximum(whi, finite.max(0)) if len(finite) else whi
        lo, hi = np.maximum(lo, tlo - pad) - 0.02, np.minimum(hi, thi + pad) + 0.02
        zoom.set_xlim(hi[1], lo[1])
        zoom.set_ylim(lo[0], hi[0])
        zoom.set_title("object workspace")
        if title:
            fig.suptitle(title)
        fig.legend(loc="outside lower center", ncols=6)
        return fig

    return _build(build)


def scatter_xy(
    true_xy: np.ndarray,
    pred_xy: np.ndarray,
    *,
    title: str = "",
    workspace: Workspace | None = None,
    size: tuple[int, int] = (960, 480),
) -> Image.Image:
    """:func:`top_view_figure` rendered to an image of ``size`` px."""
    return to_image(top_view_figure(true_xy, pred_xy, title=title, workspace=workspace, size=size))


__all__ = ["bar_chart", "bar_figure", "line_chart", "line_figure", "scatter_xy", "table_box",
           "to_image", "top_view_figure"]  # fmt: skip
