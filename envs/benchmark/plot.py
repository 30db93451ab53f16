"""The scaling plot: randomized frames/s against image size, one line per process count
(and visual detail / renderer), with the raw render of the same scenes dashed."""

from __future__ import annotations

import re
from pathlib import Path

from envs.benchmark.tables import Measurement

# "tobin frames, 64px, 2 proc, low, tiny" (measure_scaling's labels)
_LABEL = re.compile(r"^(?P<preset>\S+) frames, (?P<size>\d+)px, (?P<procs>\d+) proc, "
                    r"(?P<detail>\w+), (?P<renderer>\w+)")  # fmt: skip


def scaling_series(
    rows: list[Measurement],
) -> dict[tuple[str, str, int], list[tuple[int, float, float]]]:
    """``{(detail, renderer, processes): [(size, env frames/s, raw frames/s), ...]}`` from
    the scaling rows (others are skipped), sizes ascending."""
    series: dict[tuple[str, str, int], list[tuple[int, float, float]]] = {}
    for r in rows:
        m = _LABEL.match(r.metric)
        if m is None or r.raw is None:
            continue
        key = (m["detail"], m["renderer"], int(m["procs"]))
        series.setdefault(key, []).append((int(m["size"]), r.env, r.raw))
    return {k: sorted(v) for k, v in series.items()}


def plot_scaling(rows: list[Measurement], path: str | Path, title: str = "") -> Path | None:
    """Write the plot as a PNG; ``None`` (nothing written) when there are no scaling rows."""
    series = scaling_series(rows)
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for i, ((detail, renderer, procs), points) in enumerate(sorted(series.items())):
        sizes = [p[0] for p in points]
        colour = f"C{i % 10}"
        name = f"{procs} proc, {detail}, {renderer}"
        ax.plot(sizes, [p[1] for p in points], "o-", color=colour, label=f"{name}: env")
        ax.plot(sizes, [p[2] for p in points], "x--", color=colour, alpha=0.6,
                label=f"{name}: raw render")  # fmt: skip
    all_sizes = sorted({p[0] for pts in series.values() for p in pts})
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(all_sizes, [str(s) for s in all_sizes])
    ax.set_xlabel("image size (px per side)")
    ax.set_ylabel("randomized frames/s (a new domain each)")
    ax.set_title(
        title or "Randomized frames/s: env (solid), raw render of the same scenes", fontsize=9
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


__all__ = ["plot_scaling", "scaling_series"]
