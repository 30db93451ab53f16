"""One image grid for every tiled picture: the randomization preview, the dataset contact
sheet and the GAN's sample grids. Tiles keep their pixels (optionally enlarged by an
integer factor, nearest neighbour); each may carry a caption drawn under it.

It needs only NumPy and Pillow, so every layer above may use it.

A caption is a string (words wrap at the tile's width; ``"\\n"`` starts a new line) or a
sequence of items drawn one after another and wrapped between items: a string, or a
``(text, (r, g, b))`` pair drawn as a swatch of that colour before the text (for example a
category and its mask colour). A word or item wider than the tile is cut with an ellipsis; lines past
``max_lines`` are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
CaptionItem = Union[str, tuple[str, RGB]]  # noqa: UP007 (a runtime alias on Python 3.10)
Caption = Union[str, Sequence[CaptionItem]]  # noqa: UP007
TEXT: RGB = (0, 0, 0)
BREAK = "\n"


@dataclass(frozen=True)
class GridLayout:
    """Pixel geometry of a grid: ``rows`` x ``cols`` cells of a ``tile`` (w, h) image over a
    ``caption_h`` px caption strip, ``pad`` px apart and around."""

    rows: int
    cols: int
    tile: tuple[int, int]
    caption_h: int
    pad: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole grid."""
        w, h = self.tile
        return (self.cols * (w + self.pad) + self.pad,
                self.rows * (h + self.caption_h + self.pad) + self.pad)  # fmt: skip

    def origin(self, i: int) -> tuple[int, int]:
        """Top-left corner (x, y) of tile ``i``; its caption starts right under the tile."""
        r, c = divmod(i, self.cols)
        w, h = self.tile
        return self.pad + c * (w + self.pad), self.pad + r * (h + self.caption_h + self.pad)


def font(size: int = 10) -> Any:
    """Pillow's built-in scalable font (Pillow >= 10.1 with FreeType), else its bitmap one."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # Pillow 10.0 or no FreeType
        return ImageFont.load_default()


def _metrics(face: Any, size: int) -> tuple[int, int]:
    """(ascent, descent) in px; the bitmap fallback font has no metrics: estimated."""
    return tuple(face.getmetrics()) if hasattr(face, "getmetrics") else (size, 2)  # type: ignore[return-value]


def caption_height(lines: int, font_size: int = 10) -> int:
    """Height (px) of a caption strip of ``lines`` lines: 0 for none."""
    if lines <= 0:
        return 0
    ascent, descent = _metrics(font(font_size), font_size)
    return lines * (ascent + descent + 1) + 2


def _tiles(images: Any, scale: int) -> list[Image.Image]:
    tiles = []
    for k, im in enumerate(images):
        if not isinstance(im, Image.Image):
            a = np.asarray(im)
            if a.dtype != np.uint8 or a.ndim not in (2, 3):
                raise ValueError(
                    f"image_grid tile {k}: expected a uint8 (h, w) or (h, w, 3) array or a PIL "
                    f"image, got dtype {a.dtype} and shape {a.shape}"
                )
            im = Image.fromarray(a)
        im = im.convert("RGB")
        if scale != 1:
            im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
        tiles.append(im)
    if not tiles:
        raise ValueError("image_grid needs at least one image, got none")
    sizes = {t.size for t in tiles}
    if len(sizes) > 1:
        raise ValueError(f"image_grid tiles must share one size, got {sorted(sizes)}")
    return tiles


def _items(caption: Caption) -> list[tuple[str, RGB | None]]:
    if isinstance(caption, str):
        out: list[tuple[str, RGB | None]] = []
        for n, line in enumerate(caption.split(BREAK)):
            if n:
                out.append((BREAK, None))
            out += [(word, None) for word in line.split()]
        return out
    return [(item, None) if isinstance(item, str) else (item[0], item[1]) for item in caption]


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int, face: Any) -> str:
    if draw.textlength(text, font=face) <= width:
        return text
    while text and draw.textlength(text + "...", font=face) > width:
        text = text[:-1]
    return text + "..." if text else ""


def _swatch(face: Any) -> int:
    """Side (px) of a colour swatch: the height of a capital letter."""
    box = ImageDraw.Draw(Image.new("RGB", (1, 1))).textbbox((0, 0), "H", font=face)
    return max(4, int(box[3] - box[1]))


def wrap_caption(
    caption: Caption, width: int, *, face: Any = None, max_lines: int = 3
) -> list[list[tuple[int, str, RGB | None]]]:
    """Lines of (x offset, text, swatch colour or None) that fit ``width`` px."""
    face = face or font()
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    space = draw.textlength(" ", font=face)
    swatch = _swatch(face) + 2
    lines: list[list[tuple[int, str, RGB | None]]] = [[]]
    x = 0.0
    for text, colour in _items(caption):
        if text == BREAK:
            lines.append([])
            x = 0.0
            continue
        extra = swatch if colour is not None else 0
        text = _fit(draw, text, width - extra, face)
        w = draw.textlength(text, font=face) + extra
        gap = space * (2 if colour is not None else 1)  # swatches need air before them
        if lines[-1] and x + gap + w > width:
            lines.append([])
            x = 0.0
        if lines[-1]:
            x += gap
        lines[-1].append((round(x), text, colour))
        x += w
    return [line for line in lines if line][:max_lines]


def image_grid(
    images: Any,
    *,
    cols: int | None = None,
    captions: Sequence[Caption] | None = None,
    pad: int = 2,
    scale: int = 1,
    font_size: int = 10,
    max_lines: int = 3,
    background: RGB = (255, 255, 255),
) -> Image.Image:
    """Tile ``images`` (an (n, h, w[, 3]) uint8 array or a sequence of arrays / PIL images
    of one size) ``cols`` per row (default: a square), each ``scale`` times larger, with
    ``pad`` px of ``background`` between and around, and ``captions[i]`` under tile i."""
    if cols is not None and cols < 1:
        raise ValueError(f"image_grid cols must be >= 1, got {cols}")
    if scale < 1 or pad < 0:
        raise ValueError(f"image_grid needs scale >= 1 and pad >= 0, got {scale} and {pad}")
    tiles = _tiles(images, scale)
    if captions is not None and len(captions) != len(tiles):
        raise ValueError(
            f"image_grid needs one caption per image ({len(tiles)}), got {len(captions)}"
        )
    face = font(font_size)
    w, h = tiles[0].size
    wrapped = [wrap_caption(c, w - 2, face=face, max_lines=max_lines) for c in captions or []]
    ascent = _metrics(face, font_size)[0]
    line_h = caption_height(1, font_size) - 2
    n_lines = max((len(lines) for lines in wrapped), default=0)
    layout = grid_layout(len(tiles), (w, h), cols=cols, pad=pad,
                         caption_h=caption_height(n_lines, font_size))  # fmt: skip
    sheet = Image.new("RGB", layout.size, background)
    draw = ImageDraw.Draw(sheet)
    side = _swatch(face)
    for i, tile in enumerate(tiles):
        x, y = layout.origin(i)
        sheet.paste(tile, (x, y))
        for row, line in enumerate(wrapped[i] if wrapped else []):
            ty = y + h + 1 + row * line_h
            for dx, text, colour in line:
                tx = x + 1 + dx
                if colour is not None:
                    top = ty + ascent - side
                    draw.rectangle([tx, top, tx + side - 1, top + side - 1], fill=colour,
                                   outline=TEXT)  # fmt: skip
                    tx += side + 2
                draw.text((tx, ty), text, fill=TEXT, font=face)
    return sheet


def grid_layout(
    n: int, tile: tuple[int, int], *, cols: int | None = None, pad: int = 2, caption_h: int = 0
) -> GridLayout:
    """The layout :func:`image_grid` uses for ``n`` tiles of ``tile`` (w, h) px."""
    cols = min(cols or max(1, math.ceil(math.sqrt(n))), n)
    return GridLayout(math.ceil(n / cols), cols, tile, caption_h, pad)


__all__ = ["GridLayout", "caption_height", "font", "grid_layout", "image_grid", "wrap_caption"]
