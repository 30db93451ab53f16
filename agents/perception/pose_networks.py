"""Pose-regression networks (Tobin et al. 2017): a CoordConv CNN (:class:`PoseNet`) and a
spatial-soft-argmax keypoint network (:class:`KeypointPoseNet`), each from one RGB image in
[0, 1] to the target object's normalized 3D position; :data:`ARCHITECTURES` names them.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from torch import nn


class PoseNet(nn.Module):
    """A small CoordConv CNN: image plus pixel-coordinate channels, strided conv blocks, and
    an MLP head on the flattened feature map (keeps where things are, unlike pooling)."""

    coords: torch.Tensor

    def __init__(self, image_size: int = 64, width: int = 32) -> None:
        super().__init__()
        if image_size < 32 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {image_size}")
        g = torch.linspace(-1.0, 1.0, image_size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)
        chans = [5, width, width, 2 * width, 4 * width, 8 * width]
        layers: list[nn.Module] = []
        for i in range(len(chans) - 1):
            stride = 1 if i == 0 else 2
            layers += [
                nn.Conv2d(chans[i], chans[i + 1], 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(chans[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers)
        side = image_size // 16
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(chans[-1] * side * side, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized position from images in [0, 1], shape (B, 3, H, W)."""
        x = torch.cat([x * 2.0 - 1.0, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        return self.head(self.features(x))


class SpatialSoftmax(nn.Module):
    """Expected image coordinates of each channel's softmax (Levine et al. 2016)."""

    grid: torch.Tensor

    def __init__(self, size: int) -> None:
        super().__init__()
        g = torch.linspace(-1.0, 1.0, size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("grid", torch.stack([xx.flatten(), yy.flatten()], 1), persistent=False)
        # a sharp start (temperature 0.1): from a flat softmax the keypoints barely move
        # and training can sit at the mean prediction for many epochs
        self.log_temperature = nn.Parameter(torch.full((), float(np.log(0.1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) -> (B, 2C) keypoints."""
        b, c = x.shape[:2]
        attn = torch.softmax(x.flatten(2) / self.log_temperature.exp(), dim=-1)
        return (attn @ self.grid).reshape(b, 2 * c)


class KeypointPoseNet(nn.Module):
    """Conv trunk at half resolution, spatial soft-argmax keypoints plus max-pooled
    features, and an MLP: a localization prior that learns from fewer images (on the
    ``tobin`` domain, 9.8 vs 13.8 cm target-domain error for :class:`PoseNet` at 3-6k
    images) at the same CPU cost."""

    coords: torch.Tensor

    def __init__(self, image_size: int = 64, width: int = 32, keypoints: int = 32) -> None:
        super().__init__()
        if image_size < 32 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two >= 32, got {image_size}")
        g = torch.linspace(-1.0, 1.0, image_size)
        yy, xx = torch.meshgrid(g, g, indexing="ij")
        self.register_buffer("coords", torch.stack([xx, yy])[None], persistent=False)

        def block(i: int, o: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(o), nn.ReLU(inplace=True)]  # fmt: skip

        self.features = nn.Sequential(
            *block(5, width, 2), *block(width, width, 1), *block(width, 2 * width, 1),
            *block(2 * width, 2 * width, 1), nn.Conv2d(2 * width, keypoints, 1),
        )  # fmt: skip
        self.softargmax = SpatialSoftmax(image_size // 2)
        self.head = nn.Sequential(
            nn.Linear(2 * keypoints + keypoints, 256), nn.ReLU(inplace=True),
            nn.Linear(256, 256), nn.ReLU(inplace=True), nn.Linear(256, 3),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalized position from images in [0, 1], shape (B, 3, H, W)."""
        return self.forward_with_keypoint(x)[0]

    def forward_with_keypoint(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Position and the first keypoint (B, 2), which training can tie to the object."""
        x = torch.cat([x * 2.0 - 1.0, self.coords.expand(x.shape[0], -1, -1, -1)], dim=1)
        f = self.features(x)
        keypoints = self.softargmax(f)
        return self.head(torch.cat([keypoints, f.amax(dim=(2, 3))], dim=1)), keypoints[:, :2]


ARCHITECTURES = {"coordconv": PoseNet, "keypoints": KeypointPoseNet}


def image_size_of(model: nn.Module) -> int:
    """The input size a network was built for."""
    return int(cast(torch.Tensor, model.coords).shape[-1])


def build_network(arch: str, image_size: int, width: int) -> nn.Module:
    """One of :data:`ARCHITECTURES`."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; allowed: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](image_size, width)
