"""Test-time shift averaging of heatmaps: the network also reads the image moved by half a
heatmap cell (right, down, and both), and each of those heatmaps, moved back, is averaged
with the direct one (as log-probabilities per cell). A stride-4 heatmap places each view's
cells at a different phase of the image, so the average is a finer, steadier estimate than
any one grid. Whether a verified localizer uses it is a setting chosen on randomized
validation data (:func:`agents.perception.verifier_training.choose_settings`)."""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from agents.perception.localizer import log_probs


def shift_image(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Images (N, C, H, W) moved ``dx`` px right and ``dy`` px down (the edge repeated)."""
    h, w = x.shape[-2:]
    return F.pad(x, (dx, 0, dy, 0), mode="replicate")[..., :h, :w]


def move_back(log_p: torch.Tensor, fx: float, fy: float) -> torch.Tensor:
    """A heatmap (N, h, w) of an image moved ``fx``, ``fy`` cells right and down, read back
    at the original cells (linear interpolation, the last cell repeated): ``out(c) =
    log_p(c + f)`` for ``0 <= f <= 1``."""
    if fx:
        right = torch.cat([log_p[..., 1:], log_p[..., -1:]], dim=-1)
        log_p = (1.0 - fx) * log_p + fx * right
    if fy:
        down = torch.cat([log_p[..., 1:, :], log_p[..., -1:, :]], dim=-2)
        log_p = (1.0 - fy) * log_p + fy * down
    return log_p


class ShiftAveraged(nn.Module):
    """A heatmap model (a :class:`~agents.perception.heatmap_net.HeatmapNet` or an ensemble)
    whose output is the mean log-probability over the image and its copies moved half a
    cell right, down, and both."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.stride = int(cast(Any, model).stride)
        if self.stride % 2:
            raise ValueError(f"shift averaging moves the image half a cell: the heatmap's "
                             f"stride must be even, got {self.stride} px")  # fmt: skip
        half = self.stride // 2
        self.shifts = ((0, 0), (half, 0), (0, half), (half, half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, H / stride, W / stride) averaged log-probabilities."""
        views = [
            move_back(log_probs(self.model(shift_image(x, dx, dy) if dx or dy else x)),
                      dx / self.stride, dy / self.stride)
            for dx, dy in self.shifts
        ]  # fmt: skip
        return torch.stack(views).mean(dim=0)
