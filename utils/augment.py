"""Batched augmentation on tensors: every image of a batch rotated, scaled and shifted by its own amounts, with
one affine grid for the whole batch (on the GPU when the batch is there)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from utils.data import MNIST_MEAN, MNIST_STD

BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD  # a black pixel after normalization


def random_affine(
    x: torch.Tensor, rotate: float, scale: float, translate: float, generator: torch.Generator
) -> torch.Tensor:
    """Rotate (+-degrees), scale (1 +- fraction) and shift (+- pixels) every image of a batch,
    each by its own random amounts, with one affine grid for the whole batch.

    The random numbers come from a CPU generator, so a seed gives the same augmentation on
    any device.
    """
    if not (rotate or scale or translate):
        return x
    n, _, h, w = x.shape

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator) * 2 - 1

    angle = uniform(n) * math.radians(rotate)
    zoom = 1 + uniform(n) * scale
    shift = uniform(n, 2) * translate * 2 / torch.tensor([w, h])  # pixels -> [-1, 1] grid units
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(
        x.device, x.dtype
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # grid_sample pads with zeros: shift so that zero is the background.
    return F.grid_sample(x - BACKGROUND, grid, align_corners=False) + BACKGROUND
