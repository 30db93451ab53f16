"""Charts (agents.plots, agents.gan.plots) and the one image grid (randomizers.image_grid):
sizes, byte-for-byte determinism, error bars, the table outline on top views, tile layout
and captions."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle
from PIL import Image

from agents.gan.plots import loss_curve, smooth
from agents.plots import (
    TABLE_STYLE,
    bar_chart,
    bar_figure,
    line_chart,
    line_figure,
    scatter_xy,
    table_box,
    top_view_figure,
)
from envs.scene import ROBOT_BASE, TABLE_CENTER, TABLE_HALF, Workspace
from randomizers.image_grid import caption_height, grid_layout, image_grid, wrap_caption

GROUPS = ["full", "no noise", "none"]
SERIES = {"object only": [1.5, 2.0, 6.0], "with distractors": [2.5, 3.0, 9.0]}
STD = {"object only": [0.5, 0.4, 2.0], "with distractors": [1.0, 0.9, 3.0]}
RNG = np.random.default_rng(0)
TRUE_XY = RNG.uniform((0.35, -0.2), (0.65, 0.2), size=(12, 2))
PRED_XY = TRUE_XY + RNG.normal(scale=0.02, size=TRUE_XY.shape)


def _png(im: Image.Image) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, format="PNG")
    return buffer.getvalue()


CHARTS: dict[str, Any] = {
    "bar": lambda: bar_chart(GROUPS, SERIES, errors=STD, error_label="± 1 std", title="t",
                             ylabel="cm", size=(400, 240)),
    "line": lambda: line_chart({"train loss": [1.0, 0.5, 0.3, 0.2]}, right={"val": [4, 3, 2, 2]},
                               xlabel="epoch", size=(320, 200)),
    "loss-curve": lambda: loss_curve({"generator": list(np.linspace(2, 1, 40)),
                                      "discriminator": list(np.linspace(1, 0.5, 40))},
                                     size=(360, 180), window=5),
    "top-view": lambda: scatter_xy(TRUE_XY, PRED_XY, title="t", size=(480, 260)),
}  # fmt: skip
SIZES = {"bar": (400, 240), "line": (320, 200), "loss-curve": (360, 180), "top-view": (480, 260)}


@pytest.mark.parametrize("chart", list(CHARTS))
def test_chart_size_and_same_bytes_twice(chart: str) -> None:
    first, second = CHARTS[chart](), CHARTS[chart]()
    assert first.mode == "RGB" and first.size == SIZES[chart]
    assert _png(first) == _png(second)
    assert len(np.unique(np.asarray(first).reshape(-1, 3), axis=0)) > 20  # drawn, not blank
    with Image.open(io.BytesIO(_png(first))) as im:
        assert im.size == SIZES[chart]


def test_bar_chart_draws_error_bars_from_the_std() -> None:
    fig = bar_figure(GROUPS, SERIES, errors=STD, error_label="± 1 std")
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert [b.get_label() for b in bars] == list(SERIES)
    for bar, name in zip(bars, SERIES, strict=True):
        assert bar.errorbar is not None
        (segments,) = bar.errorbar.lines[2]  # one vertical segment per bar: mean -+ std
        low_high = np.array([seg[:, 1] for seg in segments.get_segments()])
        np.testing.assert_allclose(low_high[:, 0], np.subtract(SERIES[name], STD[name]))
        np.testing.assert_allclose(low_high[:, 1], np.add(SERIES[name], STD[name]))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [*SERIES, "± 1 std"]
    assert [t.get_text() for t in ax.get_xticklabels()] == GROUPS
    plain = bar_chart(GROUPS, SERIES, size=(400, 240))
    assert _png(plain) != _png(CHARTS["bar"]())
    assert all(c.errorbar is None for c in bar_figure(GROUPS, SERIES).axes[0].containers)
    assert bar_figure(GROUPS, SERIES).axes[0].get_legend().get_texts()[-1].get_text() == (
        "with distractors"
    )  # no error-bar legend entry without error bars


def test_bar_chart_takes_asymmetric_intervals_and_skips_missing_values() -> None:
    rate = [50.0, 80.0, float("nan")]
    ci = [[10.0, 5.0, 0.0], [12.0, 8.0, 0.0]]  # lower and upper lengths
    ax = bar_figure(GROUPS, {"ppo": rate}, errors={"ppo": ci}).axes[0]
    (bar,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bar.patches) == 2  # the NaN draws no bar
    (segments,) = bar.errorbar.lines[2]
    ends = np.array([seg[:, 1] for seg in segments.get_segments()])
    np.testing.assert_allclose(ends, [[40.0, 62.0], [75.0, 88.0]])


@pytest.mark.parametrize(
    ("errors", "message"),
    [
        ({"object only": [1.0, 2.0]}, r"errors for 'object only' need shape \(3,\) or \(2, 3\)"),
        ({"object only": [1.0, -2.0, 1.0]}, r"errors for 'object only' must be >= 0"),
        ({"nope": [1.0, 1.0, 1.0]}, r"errors name unknown series 'nope'"),
    ],
    ids=["wrong-length", "negative", "unknown-series"],
)
def test_bar_chart_rejects_bad_errors(errors: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bar_chart(GROUPS, SERIES, errors=errors)


def test_line_chart_legend_band_and_second_axis() -> None:
    fig = line_figure({"loss": [3.0, 2.0, 1.0]}, spread={"loss": [0.5, 0.4, 0.1]},
                      right={"val error (cm)": [5.0, 4.0, 3.5]}, right_label="cm")  # fmt: skip
    ax, twin = fig.axes
    assert twin.get_ylabel() == "cm"
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    ys = band.get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(0.9) and ys.max() == pytest.approx(3.5)
    legend = twin.get_legend()  # on top of both axes
    assert [t.get_text() for t in legend.get_texts()] == ["loss", "loss ± 1 std", "val error (cm)"]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [1, 2, 3])  # epochs count from 1


def test_smooth_is_a_trailing_mean() -> None:
    np.testing.assert_allclose(smooth([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])


def test_top_view_draws_the_table_and_the_workspace_from_the_scene() -> None:
    fig = top_view_figure(TRUE_XY, PRED_XY, size=(480, 260))
    whole, zoom = fig.axes
    rects = {p.get_gid(): p for p in whole.patches if isinstance(p, Rectangle)}
    table, work = rects["table"], rects["workspace"]
    # drawn as (y, x) in the robot base frame: the robot sits at the world origin on the table
    x0 = TABLE_CENTER[0] - TABLE_HALF[0] - ROBOT_BASE[0]
    y0 = TABLE_CENTER[1] - TABLE_HALF[1] - ROBOT_BASE[1]
    assert table.get_xy() == pytest.approx((y0, x0))
    assert (table.get_width(), table.get_height()) == pytest.approx(
        (2 * TABLE_HALF[1], 2 * TABLE_HALF[0])
    )
    ws = Workspace()
    assert work.get_xy() == pytest.approx((ws.object_low[1], ws.object_low[0]))
    assert whole.get_aspect() == 1.0 and zoom.get_aspect() == 1.0
    assert whole.xaxis_inverted()  # the robot's left is on the left
    assert "m" in whole.get_xlabel() and "m" in whole.get_ylabel()
    (errors,) = [c for c in whole.collections if isinstance(c, LineCollection)]
    assert len(errors.get_segments()) == len(TRUE_XY)  # one line from each true to its prediction
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["table top", "object workspace", "robot base", "error", "true", "predicted"]
    lo, hi = table_box(Workspace(object_low=(0.4, -0.1), object_high=(0.5, 0.1)))["workspace"]
    np.testing.assert_allclose([lo, hi], [[0.4, -0.1], [0.5, 0.1]])


def test_top_view_pixels_show_the_table_outline() -> None:
    fig = top_view_figure(TRUE_XY, PRED_XY, size=(480, 260))
    from agents.plots import to_image

    rgb = np.asarray(to_image(fig)).astype(int)
    whole = fig.axes[0]
    (tlo, thi) = table_box()["table"]
    outline = np.array(to_rgb(TABLE_STYLE["edgecolor"])) * 255
    for y, x in [((tlo[1] + thi[1]) / 2, tlo[0]), ((tlo[1] + thi[1]) / 2, thi[0]), (tlo[1], 0.5)]:
        u, v = whole.transData.transform((y, x))  # display px, origin at the bottom
        row, col = int(round(rgb.shape[0] - v)), int(round(u))
        patch = rgb[row - 2 : row + 3, col - 2 : col + 3].reshape(-1, 3)
        assert np.abs(patch - outline).sum(1).min() < 60, (x, y)  # antialiased edge


def test_top_view_rejects_mismatched_positions() -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 2\), got \(12, 2\) and \(11, 2\)"):
        scatter_xy(TRUE_XY, PRED_XY[:11])


def _tiles(n: int, h: int = 6, w: int = 8) -> np.ndarray:
    return np.stack([np.full((h, w, 3), 20 * (i + 1), np.uint8) for i in range(n)])


def test_image_grid_layout_without_captions() -> None:
    grid = image_grid(_tiles(5), pad=2)
    assert grid.size == (3 * (8 + 2) + 2, 2 * (6 + 2) + 2)  # square-ish: 3 columns, 2 rows
    a = np.asarray(grid)
    layout = grid_layout(5, (8, 6), pad=2)
    for i in range(5):
        x, y = layout.origin(i)
        assert (a[y : y + 6, x : x + 8] == 20 * (i + 1)).all()
    assert (a[-2:] == 255).all() and (a[:, :2] == 255).all()  # padding
    assert image_grid(_tiles(5), cols=8, pad=0).size == (5 * 8, 6)  # never more columns than tiles
    big = image_grid(_tiles(2), cols=1, scale=3, pad=0)
    assert big.size == (24, 36) and (np.asarray(big)[18:] == 40).all()


def test_image_grid_captions_sit_under_their_tiles() -> None:
    captions: list[Any] = ["seed 1", ["#2", ("cube", (60, 180, 75))], "a\nb", ""]
    grid = image_grid(_tiles(4, h=40, w=60), captions=captions, pad=2)
    cap = caption_height(2)  # the tallest caption has two lines
    assert cap > 0 and grid.size == (2 * 62 + 2, 2 * (40 + cap + 2) + 2)
    a = np.asarray(grid).astype(int)
    layout = grid_layout(4, (60, 40), pad=2, caption_h=cap)
    strips = []
    for i in range(4):
        x, y = layout.origin(i)
        strips.append(a[y + 40 : y + 40 + cap, x : x + 60])
    assert all((s < 100).all(axis=2).any() for s in strips[:3])  # dark text drawn
    assert (strips[3] == 255).all()  # an empty caption draws nothing
    swatch = (np.abs(strips[1] - [60, 180, 75]).sum(axis=2) < 10).sum()
    assert swatch >= 16  # the category's colour square
    with pytest.raises(ValueError, match=r"one caption per image \(4\), got 1"):
        image_grid(_tiles(4), captions=["x"])


def test_captions_wrap_at_the_tile_width() -> None:
    from PIL import ImageDraw

    from randomizers.image_grid import font

    words = ["target:", "cube;", "goal", "3", "distractors"]
    lines = wrap_caption(" ".join(words), 60, max_lines=5)
    assert len(lines) >= 2 and [t for line in lines for _, t, _ in line] == words
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    assert all(line[-1][0] + draw.textlength(line[-1][1], font=font()) <= 60 for line in lines)
    assert len(wrap_caption("a b c d e f g h i j k l m n o p", 10, max_lines=2)) == 2
    (only,) = wrap_caption("supercalifragilistic", 30)
    assert only[0][1].endswith("...")


@pytest.mark.parametrize(
    ("images", "message"),
    [
        ([], "at least one image"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], "share one size"),
        ([np.zeros((4, 4, 3), np.float32)], "tile 0: expected a uint8"),
    ],
    ids=["empty", "mixed-sizes", "float"],
)
def test_image_grid_rejects_bad_tiles(images: list[np.ndarray], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        image_grid(images)


def test_contact_sheet_labels_categories_in_their_mask_colours(tmp_path: Path) -> None:
    from envs.dataset.labels import CATEGORIES
    from envs.dataset.sheets import _COLOURS, contact_sheet

    (tmp_path / "rgb").mkdir()
    records = []
    for i in range(3):
        Image.fromarray(np.full((24, 24, 3), 90, np.uint8)).save(tmp_path / "rgb" / f"{i}.png")
        inst = np.zeros((24, 24), np.uint8)
        inst[4:10, 4:10] = 1
        Image.fromarray(inst).save(tmp_path / "rgb" / f"{i}_inst.png")
        objects = [{"instance": 1, "category": "cube", "bbox": [4, 4, 6, 6]},
                   {"instance": 9, "category": "distractor", "bbox": None}]  # fmt: skip
        records.append({"index": i, "rgb": f"rgb/{i}.png", "instances": f"rgb/{i}_inst.png",
                        "objects": objects})  # fmt: skip
    (tmp_path / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    sheet = np.asarray(contact_sheet(tmp_path, num=3, scale=2)).astype(int)
    tile = 48
    assert sheet.shape[1] == 2 * (tile + 2) + 2
    cap = (sheet.shape[0] - 2 - 2 * (tile + 2)) // 2
    assert cap == caption_height(len(wrap_caption(["#0", ("cube", (0, 0, 0)),
                                                   ("distractor", (0, 0, 0))], tile - 2)))  # fmt: skip
    strip = sheet[2 + tile : 2 + tile + cap, 2 : 2 + tile]
    for category in ("cube", "distractor"):
        colour = _COLOURS[CATEGORIES.index(category) % len(_COLOURS)]
        assert (np.abs(strip - colour).sum(axis=2) < 10).sum() >= 9, category
