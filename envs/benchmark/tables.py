"""Benchmark results as rows and Markdown tables: :class:`Measurement` (env next to raw
PyBullet) and :class:`ExportRow` (dataset export next to bare rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Measurement:
    """One benchmark row: env rate, raw rate, ratio."""

    env_id: str
    metric: str
    env: float
    raw: float | None
    unit: str

    @property
    def ratio(self) -> float | None:
        """env / raw for rates, raw / env for times (so > 1 always means the env is faster)."""
        if self.raw is None or self.env == 0:
            return None
        return self.env / self.raw if self.unit.endswith("/s") else self.raw / self.env

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row."""
        return {
            "env_id": self.env_id,
            "metric": self.metric,
            "env": self.env,
            "raw": self.raw,
            "unit": self.unit,
            "ratio": self.ratio,
        }


def markdown_table(rows: list[Measurement]) -> str:
    """The rows as a Markdown table."""
    lines = [
        "| env | metric | env | raw PyBullet | env / raw |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        raw = "" if r.raw is None else f"{r.raw:,.1f} {r.unit}"
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(f"| {r.env_id} | {r.metric} | {r.env:,.1f} {r.unit} | {raw} | {ratio} |")
    return "\n".join(lines)


@dataclass
class ExportRow:
    """Export throughput at one image size and worker count, next to bare rendering of the
    same randomized scenes by as many processes."""

    env_id: str
    preset: str
    size: int
    workers: int
    steady: float  # images/s once every worker has finished its first samples
    total: float  # images/s of the whole call: pool start-up, env creation, index files
    raw: float  # images/s of bare ``getCameraImage`` (RGB + segmentation), same scenes
    alone_renders: float  # extra (window) renders per image for visible fractions
    alone_area: float = 0.0  # their pixels per image, as a fraction of one frame

    @property
    def overhead(self) -> float:
        """Time per image beyond the bare render, as a fraction of it (steady state)."""
        return self.raw / self.steady - 1.0

    def measurements(self) -> list[Measurement]:
        """The two rows (steady state; start-up included) in the generic benchmark table."""
        plural = "s" * (self.workers > 1)
        name = f"export ({self.preset}, {self.size}px, {self.workers} worker{plural}"
        return [
            Measurement(self.env_id, f"{name}, steady state)", self.steady, self.raw, "images/s"),
            Measurement(self.env_id, f"{name}, incl. start-up)", self.total, self.raw, "images/s"),
        ]


EXPORT_DEFINITIONS = (
    "steady = images/s from the first finished samples (every worker's first pool chunk) to "
    "the last; incl. start-up = images/s "
    "of the whole export call (pool start-up, env creation, samples.jsonl and preview); raw = "
    "bare getCameraImage (RGB + segmentation, TinyRenderer) of the same randomized scenes, "
    "timed alone (not the reset that builds each scene), in as many processes as workers; "
    "overhead beyond rendering = export time per image / raw render time per image - 1 "
    "(steady state); the labels' visible fractions need the listed extra renders per image "
    "(alone-renders of some objects or links, each drawing only the window of pixels it must "
    "tell; their pixels per image as a fraction of one frame), which raw does not include"
)


def export_table(rows: list[ExportRow]) -> str:
    """The export rows as a Markdown table, with 2-worker scaling where measured."""
    lines = [
        "| export | images/s (steady) | images/s (incl. start-up) | raw render | steady / raw "
        "| overhead beyond rendering | extra renders / image | their pixels / frame |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.preset}, {r.size} px, {r.workers} worker{'s' * (r.workers > 1)} "
            f"| {r.steady:,.1f} | {r.total:,.1f} | {r.raw:,.1f} | {r.steady / r.raw:.2f} "
            f"| {r.overhead:.0%} | {r.alone_renders:.1f} | {r.alone_area:.2f} |"
        )
    one = {r.size: r for r in rows if r.workers == 1}
    for r in rows:
        if r.workers > 1 and r.size in one:
            base = one[r.size]
            lines.append(
                f"\n{r.size} px, {r.workers} workers / 1 worker: {r.steady / base.steady:.2f}x "
                f"steady, {r.total / base.total:.2f}x incl. start-up"
            )
    return "\n".join(lines)


__all__ = ["EXPORT_DEFINITIONS", "ExportRow", "Measurement", "export_table", "markdown_table"]
