"""Training throughput of the localizer's heatmap network in each number format
(``scripts/benchmark.py --training``): synthetic images and targets through the real loss,
so the figure is the network's and the optimizer's alone, not data loading."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from agents.perception.heatmap_net import MERGES, HeatmapNet
from agents.perception.localizer import LocalizerConfig
from agents.perception.localizer_training import batch_loss
from agents.training import PRECISIONS, seeded


@dataclass(frozen=True)
class TrainingRow:
    """Images per second through one AdamW step of the heatmap network (forward in
    ``precision``, loss and update in float32)."""

    size: int
    batch: int
    precision: str
    images_per_s: float
    threads: int  # torch's intra-op threads during the measurement
    merge: str = "concat"  # the trunk's (agents.perception.heatmap_net.MERGES)


def _step_seconds(net: HeatmapNet, opt: torch.optim.Optimizer, x: torch.Tensor,
                  pixels: torch.Tensor, cover: torch.Tensor, config: LocalizerConfig,
                  steps: int) -> float:  # fmt: skip
    t0 = time.perf_counter()
    for _ in range(steps):
        loss = batch_loss(net, x, pixels, cover, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def measure_training(size: int = 128, stem_stride: int = 2, batch: int = 64, steps: int = 8,
                     repeats: int = 3, precisions: tuple[str, ...] = PRECISIONS,
                     merges: tuple[str, ...] = MERGES) -> list[TrainingRow]:  # fmt: skip
    """Best of ``repeats`` timings of ``steps`` training steps per merge and precision, all
    interleaved in each repeat so that a machine's drift affects them alike."""
    configs = {(m, p): LocalizerConfig(stem_stride=stem_stride, mask_weight=1.0, precision=p,
                                       merge=m)
               for m in merges for p in precisions}  # refuses unknown names  # fmt: skip
    if size % (2 * stem_stride) or min(size, batch, steps, repeats) < 1:
        raise ValueError(f"need size a multiple of {2 * stem_stride} and positive batch, steps "
                         f"and repeats, got size={size}, batch={batch}, steps={steps}, "
                         f"repeats={repeats}")  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen).mul(2).sub(1)
    pixels = torch.rand(batch, 2, generator=gen).mul(1.6).sub(0.8)
    side = size // (2 * stem_stride)
    cover = (torch.rand(batch, side, side, generator=gen) > 0.9).float()
    nets = {}
    for key, config in configs.items():
        with seeded(0):
            net = HeatmapNet(16, stem_stride, mask_head=True, merge=config.merge)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        _step_seconds(net.train(), opt, x, pixels, cover, config, 2)  # warm-up: kernel choice
        nets[key] = (net, opt, config)
    best = dict.fromkeys(configs, float("inf"))
    for _ in range(repeats):
        for key, (net, opt, config) in nets.items():
            best[key] = min(best[key], _step_seconds(net, opt, x, pixels, cover, config, steps))
    threads = torch.get_num_threads()
    return [TrainingRow(size, batch, p, batch * steps / best[m, p], threads, m)
            for m, p in configs]  # fmt: skip


def training_table(rows: list[TrainingRow]) -> str:
    """The rows as a Markdown table, each row's speed-up over the float32 ``concat`` network
    of its size and batch where measured."""
    base = {(r.size, r.batch): r.images_per_s for r in rows
            if r.precision == "fp32" and r.merge == "concat"}  # fmt: skip
    lines = ["| network | merge | batch | forward pass | training images/s | vs fp32 concat |",
             "|---|---|---:|---|---:|---:|"]  # fmt: skip
    for r in rows:
        ref = base.get((r.size, r.batch))
        ratio = "" if ref is None else f"{r.images_per_s / ref:.2f}"
        lines.append(f"| heatmap localizer, {r.size} px | {r.merge} | {r.batch} | {r.precision} "
                     f"| {r.images_per_s:,.1f} | {ratio} |")  # fmt: skip
    return "\n".join(lines)
