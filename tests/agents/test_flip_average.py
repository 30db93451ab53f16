"""Flip and shift averaging of heatmaps: the mirrored image's heatmap, mirrored back and
realigned, and the half-cell-shifted images' heatmaps, moved back, peak where the direct one
does, for every heatmap stride."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from agents.perception.flip_average import FlipAveraged, realign_mirrored
from agents.perception.localizer import log_probs, soft_argmax
from agents.perception.shift_average import ShiftAveraged, move_back, shift_image


class Centroid(nn.Module):
    """A stand-in heatmap network: a Gaussian (in log space) around the centroid of the bright
    pixels, in the HeatmapNet convention (cell j stands for pixel (j + 0.5) x stride)."""

    def __init__(self, stride: int) -> None:
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = x[:, 0] + 1.0  # 0 where dark
        total = w.sum((1, 2))
        u = (w.sum(1) * torch.arange(x.shape[-1])).sum(-1) / total
        v = (w.sum(2) * torch.arange(x.shape[-2])).sum(-1) / total
        cu = (torch.arange(x.shape[-1] // self.stride) + 0.5) * self.stride
        cv = (torch.arange(x.shape[-2] // self.stride) + 0.5) * self.stride
        du = cu[None, None, :] - u[:, None, None]
        dv = cv[None, :, None] - v[:, None, None]
        return -(du**2 + dv**2) / 50.0


@pytest.mark.parametrize("stride", [1, 2, 4])
def test_the_mirrored_heatmap_lines_up_with_the_direct_one(stride: int) -> None:
    x = -torch.ones(2, 3, 64, 64)
    x[0, :, 20, 30] = 1.0  # a bright pixel at u=30, v=20
    x[1, :, 40, 17:19] = 1.0  # two: their centre is u=17.5, v=40
    truth = torch.tensor([[30.0, 20.0], [17.5, 40.0]])
    net = Centroid(stride)
    direct = soft_argmax(net(x)) * stride
    torch.testing.assert_close(direct, truth, atol=0.01, rtol=0)
    mirrored = log_probs(net(x.flip(-1)).flip(-1))
    # pixel u of the image is W - 1 - u of its mirror: unaligned, every peak lands 1 px right
    torch.testing.assert_close(soft_argmax(mirrored) * stride, truth + torch.tensor([1.0, 0.0]),
                               atol=0.01, rtol=0)  # fmt: skip
    torch.testing.assert_close(soft_argmax(realign_mirrored(mirrored, stride)) * stride, truth,
                               atol=0.01, rtol=0)  # fmt: skip
    averaged = FlipAveraged(net)(x)
    assert averaged.shape == (2, 64 // stride, 64 // stride)
    torch.testing.assert_close(torch.logsumexp(averaged.flatten(1), 1), torch.zeros(2), atol=0.05,
                               rtol=0)  # fmt: skip
    torch.testing.assert_close(soft_argmax(averaged) * stride, truth, atol=0.01, rtol=0)


def test_shift_image_moves_content_and_repeats_the_edge() -> None:
    x = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).reshape(2, 3, 4, 5)
    moved = shift_image(x, 2, 1)
    assert moved.shape == x.shape
    torch.testing.assert_close(moved[..., 1:, 2:], x[..., :-1, :-2], atol=0, rtol=0)
    torch.testing.assert_close(moved[..., 1:, 0], x[..., :-1, 0], atol=0, rtol=0)  # edge
    torch.testing.assert_close(moved[..., 0, 2:], x[..., 0, :-2], atol=0, rtol=0)


def test_move_back_interpolates_between_neighbouring_cells() -> None:
    lp = torch.arange(12, dtype=torch.float32).reshape(1, 3, 4)
    torch.testing.assert_close(move_back(lp, 0.0, 0.0), lp, atol=0, rtol=0)
    # one whole cell: each cell reads its right neighbour, the last one repeats
    assert move_back(lp, 1.0, 0.0)[0, 0].tolist() == [1.0, 2.0, 3.0, 3.0]
    assert move_back(lp, 0.5, 0.0)[0, 0].tolist() == [0.5, 1.5, 2.5, 3.0]
    assert move_back(lp, 0.0, 0.5)[0, :, 0].tolist() == [2.0, 6.0, 8.0]


@pytest.mark.parametrize("stride", [2, 4])
def test_the_shifted_heatmaps_line_up_with_the_direct_one(stride: int) -> None:
    x = -torch.ones(2, 3, 64, 64)
    x[0, :, 20, 30] = 1.0
    x[1, :, 40, 17:19] = 1.0
    truth = torch.tensor([[30.0, 20.0], [17.5, 40.0]])
    net = Centroid(stride)
    moved = log_probs(net(shift_image(x, stride // 2, stride // 2)))
    # unaligned, the peak lands half a cell right and down
    torch.testing.assert_close(soft_argmax(moved) * stride, truth + stride / 2, atol=0.01, rtol=0)
    averaged = ShiftAveraged(net)(x)
    assert averaged.shape == (2, 64 // stride, 64 // stride)
    torch.testing.assert_close(soft_argmax(averaged) * stride, truth, atol=0.01, rtol=0)
    both = FlipAveraged(ShiftAveraged(net))(x)
    torch.testing.assert_close(soft_argmax(both) * stride, truth, atol=0.01, rtol=0)


def test_shift_averaging_needs_an_even_stride() -> None:
    with pytest.raises(ValueError, match="stride must be even, got 3 px"):
        ShiftAveraged(Centroid(3))
