"""Eval-mode building blocks of the conv encoders, arranged for CPU speed."""
from __future__ import annotations

import torch
from torch import Tensor, nn


def fold_batch_norm(conv: nn.Conv2d, batch_norm: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Weight and bias of ``batch_norm(conv(x))`` as one convolution (running statistics)."""
    scale = batch_norm.weight * torch.rsqrt(batch_norm.running_var + batch_norm.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(batch_norm.running_mean)
    return conv.weight * scale[:, None, None, None], (bias - batch_norm.running_mean) * scale + batch_norm.bias


def max_pool_2x2(x: Tensor) -> Tensor:
    """``MaxPool2d(2, stride=2)`` (odd trailing rows/columns dropped), as strided maxima.

    ``max_pool2d`` on CPU also computes indices and was several times slower.
    """
    height, width = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
    x = x[..., :height, :width]
    top = torch.maximum(x[..., 0::2, 0::2], x[..., 0::2, 1::2])
    return torch.maximum(top, torch.maximum(x[..., 1::2, 0::2], x[..., 1::2, 1::2]))
