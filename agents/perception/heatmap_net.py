"""The localizer's heatmap network: a CoordConv trunk at stride 2 (or 4) with a dilated
stride-4 context stage merged back, and a 1x1 head (one heatmap, optionally mask logits).
"""

from __future__ import annotations

from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

MERGES = ("concat", "add")
"""how the context stage joins the stride-2 features: ``concat`` (concatenated, two 3x3
convolutions; the original) or ``add`` (a 1x1 projection added, one 3x3 convolution: a
third fewer multiply-adds, ~1.4x the training images/s on a 2-core CPU)"""


def check_merge(merge: object) -> None:
    """Refuse a merge other than :data:`MERGES`, naming them."""
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {', '.join(MERGES)}, got {merge!r}")


class _ChannelsLastGrad(torch.autograd.Function):
    """Identity whose backward hands on its gradient in channels-last layout: the gradient a
    concatenation passes back is a channel slice, which CPU bilinear upsampling's backward
    would otherwise take a generic path for (12.5 against 2.8 ms per 64-image batch)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous(memory_format=torch.channels_last)


def _block(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(i, o, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(o),
        nn.ReLU(inplace=True),
    )


class HeatmapTrunk(nn.Module):
    """Image (plus two pixel-coordinate channels) -> features at 1 / (2 x stem_stride)
    resolution: a stem, a stride-4 stage with dilated convolutions for context, and an
    upsampling stage that merges the stride-2 features back in (``merge``: see
    :data:`MERGES`). Shared by the localizer and the DAgger keypoint network (same layer
    names, so one's weights load into the other)."""

    def __init__(self, width: int = 16, stem_stride: int = 1, merge: str = "concat") -> None:
        super().__init__()
        check_merge(merge)
        w = width
        self.stride = 2 * stem_stride
        self.merge = merge
        self.stem = _block(5, w, stem_stride)
        self.down = nn.Sequential(_block(w, 2 * w, 2), _block(2 * w, 2 * w))
        self.context = nn.Sequential(
            _block(2 * w, 4 * w, 2),
            _block(4 * w, 4 * w, dilation=2),
            _block(4 * w, 4 * w, dilation=4),
        )
        if merge == "concat":
            self.up = nn.Sequential(_block(6 * w, 2 * w), _block(2 * w, 2 * w))
        else:  # a 1x1 projection at stride 4 (it commutes with the upsampling), then one conv
            self.lateral = nn.Conv2d(4 * w, 2 * w, 1, bias=False)
            self.up = nn.Sequential(nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),
                                    _block(2 * w, 2 * w))  # fmt: skip
        # NHWC weights: oneDNN's CPU convolutions train ~1.2x and infer ~1.4x faster so (the
        # heads that subclasses add follow the features' layout); loading a checkpoint
        # copies into these tensors and keeps the layout
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def stride2_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> the features the context stage reads and the merge
        joins back: the image and its pixel coordinates through the stem and ``down``."""
        n, _, h, w = x.shape
        yy, xx = torch.meshgrid(
            torch.linspace(-1, 1, h, device=x.device), torch.linspace(-1, 1, w, device=x.device),
            indexing="ij",
        )  # fmt: skip
        # written straight into the channels-last layout the stem's convolution reads: a
        # concatenation comes out contiguous and oneDNN would reorder it (the same values)
        inputs = torch.empty((n, 5, h, w), dtype=x.dtype, device=x.device,
                             memory_format=torch.channels_last)  # fmt: skip
        inputs[:, :3] = x
        inputs[:, 3] = xx
        inputs[:, 4] = yy
        return self.down(self.stem(inputs))  # type: ignore[no-any-return]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 2 x width, H / stride, W / stride)."""
        half = self.stride2_features(x)
        if self.merge == "add":
            ctx = F.interpolate(self.lateral(self.context(half)), size=half.shape[-2:],
                                mode="bilinear", align_corners=False)  # fmt: skip
            return self.up(ctx + half)  # type: ignore[no-any-return]
        ctx = F.interpolate(self.context(half), size=half.shape[-2:], mode="bilinear",
                            align_corners=False)  # fmt: skip
        if ctx.requires_grad:
            ctx = cast(torch.Tensor, _ChannelsLastGrad.apply(ctx))
        return self.up(torch.cat([ctx, half], 1))  # type: ignore[no-any-return]


class HeatmapNet(HeatmapTrunk):
    """The trunk and a 1x1 convolution: one heatmap of the object's projected centre (and,
    with ``mask_head``, a second channel: the object's segmentation logits, a training aid)."""

    def __init__(self, width: int = 16, stem_stride: int = 1, mask_head: bool = False,
                 merge: str = "concat") -> None:  # fmt: skip
        super().__init__(width, stem_stride, merge)
        self.head = nn.Conv2d(2 * width, 2 if mask_head else 1, 1)

    def outputs(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, 1 or 2, H / stride, W / stride): heatmap logits,
        then mask logits when the net has a mask head."""
        return self.head(self.features(x))  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [-1, 1] -> (N, H / stride, W / stride) heatmap logits."""
        return self.outputs(x)[:, 0]
