"""Test-time flip averaging of heatmaps: the network also reads the mirrored image, and its
heatmap, mirrored back and realigned, is averaged with the direct one (as log-probabilities
per cell). A look-alike or an occluder that draws the peak in one view rarely does in both.
Whether a verified localizer uses it is a setting chosen on randomized validation data
(:func:`agents.perception.verifier_training.choose_settings`)."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from agents.perception.localizer import log_probs
from agents.perception.shift_average import move_back


def realign_mirrored(log_p: torch.Tensor, stride: int) -> torch.Tensor:
    """A heatmap (N, h, w) of the mirrored image, mirrored back, moved 1 px left (linear
    interpolation between cells): mirroring maps pixel u to W - 1 - u while cell j's centre
    stands for pixel (j + 0.5) x stride, so without this every peak lands 1 px right."""
    return move_back(log_p, 1.0 / stride, 0.0)


class FlipAveraged(nn.Module):
    """A heatmap model (a :class:`~agents.perception.heatmap_net.HeatmapNet` or an ensemble)
    whose output is the mean log-probability of the image and of its mirror image."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.stride = int(cast(Any, model).stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, H / stride, W / stride) averaged log-probabilities."""
        direct = log_probs(self.model(x))
        mirrored = realign_mirrored(log_probs(self.model(x.flip(-1)).flip(-1)), self.stride)
        return 0.5 * (direct + mirrored)
