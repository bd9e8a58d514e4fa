"""Convolutional transformer (CvT) encoder of Hybrid BYOL-S.

Three stages, each: strided conv embedding, channel LayerNorm, transformer blocks whose
q/kv projections are depthwise-separable convs. The third stage's output map (after its last
residual block; there is no final norm) is pooled as the variant config says, SERAB's
``cvt_pool``: ``mean+max`` (the map flattened per time step, mean+max over time, like
AudioNTT) or ``mean`` (``AdaptiveAvgPool2d(1)``: the mean over mel bins and time, one value per
channel). Module names mirror the reference so checkpoints load unchanged (the pools have no
parameters). Layers: ``stage1``..``stage3``, each stage's output map pooled the same way
(``stage3`` is the embedding).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from hear_byols.encoders.base import MEAN, MEAN_MAX, Encoder, Layer, map_time_steps
from hear_byols.errors import InvalidOptionError

#: ``pooling`` values of a CvT config (SERAB's ``cvt_pool``) -> how the stage maps are pooled
CVT_POOLINGS = {"mean+max": MEAN_MAX, "mean": MEAN}


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of ``(B, C, H, W)``: ``(x - mean) / (std + eps) * g + b``.

    Note eps is added to the (biased) std, not to the variance, as in the reference.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        # two passes over channel planes instead of torch.var's strided reduction (~20% of the
        # encoder's CPU time); same biased std up to rounding
        centered = x - x.mean(dim=1, keepdim=True)
        std = centered.square().mean(dim=1, keepdim=True).sqrt()
        return centered / (std + self.eps) * self.g + self.b


class PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module) -> None:
        super().__init__()
        self.norm = ChannelLayerNorm(dim)
        self.fn = fn

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(self.norm(x))


class FeedForward(nn.Module):
    """Pointwise (1x1 conv) MLP; its dropouts have p=0 (kept for the checkpoint's module names)."""

    def __init__(self, dim: int, mult: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim, dim * mult, 1), nn.GELU(), nn.Dropout(0.0), nn.Conv2d(dim * mult, dim, 1), nn.Dropout(0.0)
        )

    def forward(self, x: Tensor) -> Tensor:
        # the 1x1 convs as matrix products over channels-last positions: one large GEMM each
        # instead of a per-image conv (1.2x faster encoder on CPU, same numbers up to rounding)
        expand, activation, _, project, _ = self.net
        hidden = activation(F.linear(x.permute(0, 2, 3, 1), expand.weight.flatten(1), expand.bias))
        return F.linear(hidden, project.weight.flatten(1), project.bias).permute(0, 3, 1, 2)


class DepthwiseSeparableConv(nn.Module):
    """Depthwise conv -> BatchNorm -> pointwise conv (the ``to_q`` / ``to_kv`` projections)."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim_in, dim_in, kernel_size, padding=kernel_size // 2, groups=dim_in, stride=stride, bias=False),
            nn.BatchNorm2d(dim_in),
            nn.Conv2d(dim_in, dim_out, kernel_size=1, bias=False),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ConvAttention(nn.Module):
    """Multi-head attention over all positions of the map; keys/values are spatially strided."""

    def __init__(self, dim: int, proj_kernel: int, kv_proj_stride: int, heads: int, dim_head: int) -> None:
        super().__init__()
        inner_dim = dim_head * heads
        self.heads = heads
        self.scale = dim_head**-0.5
        self.to_q = DepthwiseSeparableConv(dim, inner_dim, proj_kernel, stride=1)
        self.to_kv = DepthwiseSeparableConv(dim, inner_dim * 2, proj_kernel, stride=kv_proj_stride)
        self.to_out = nn.Sequential(nn.Conv2d(inner_dim, dim, 1), nn.Dropout(0.0))

    def _split_heads(self, x: Tensor) -> Tensor:
        """``(B, h*d, H, W) -> (B, h, H*W, d)`` with channel ``c = head * d + j`` (contiguous:
        the fused attention kernel needs it, else it falls back to the full matrix)."""
        batch, channels, height, width = x.shape
        return x.reshape(batch, self.heads, channels // self.heads, height * width).transpose(2, 3).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        batch, _, height, width = x.shape
        q = self._split_heads(self.to_q(x))
        k, v = (self._split_heads(t) for t in self.to_kv(x).chunk(2, dim=1))
        # fused (flash) attention never materialises the queries x keys matrix, which for the
        # scene embedding of a 10-minute clip would take ~58 GB
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)  # (B, h, H*W, d)
        return self.to_out(out.transpose(2, 3).reshape(batch, -1, height, width))


class Transformer(nn.Module):
    def __init__(
        self, dim: int, proj_kernel: int, kv_proj_stride: int, depth: int, heads: int, dim_head: int, mlp_mult: int
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [
                    PreNorm(dim, ConvAttention(dim, proj_kernel, kv_proj_stride, heads, dim_head)),
                    PreNorm(dim, FeedForward(dim, mlp_mult)),
                ]
            )
            for _ in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        for attention, feed_forward in self.layers:
            x = attention(x) + x
            x = feed_forward(x) + x
        return x


class CvT(Encoder):
    """``layers.0..2`` are the stages; ``layers.3`` is the reference's parameter-free pool slot."""

    def __init__(
        self,
        emb_dims: Sequence[int],
        depths: Sequence[int],
        mlp_mults: Sequence[int],
        heads: Sequence[int],
        emb_kernels: Sequence[int],
        emb_strides: Sequence[int],
        proj_kernels: Sequence[int],
        kv_proj_strides: Sequence[int],
        dim_head: int,
        n_mels: int = 64,
        pooling: str = "mean+max",
    ) -> None:
        super().__init__()
        if pooling not in CVT_POOLINGS:
            raise InvalidOptionError(
                f"pooling={pooling!r} in a CvT variant config: choose one of {', '.join(map(repr, CVT_POOLINGS))} "
                "(SERAB's cvt_pool values; fix the YAML file)"
            )
        self.pooling = CVT_POOLINGS[pooling]
        stages: list[nn.Module] = []
        in_dim = 1
        freq = n_mels
        #: each stage's embedding size (plain ints: not in the state dict): channels x frequency
        #: bins for mean+max, channels for the mean over mel and time
        self.stage_sizes: list[int] = []
        for i, dim in enumerate(emb_dims):
            kernel, stride = emb_kernels[i], emb_strides[i]
            stages.append(
                nn.Sequential(
                    nn.Conv2d(in_dim, dim, kernel_size=kernel, padding=kernel // 2, stride=stride),
                    ChannelLayerNorm(dim),
                    Transformer(dim, proj_kernels[i], kv_proj_strides[i], depths[i], heads[i], dim_head, mlp_mults[i]),
                )
            )
            in_dim = dim
            freq = (freq + 2 * (kernel // 2) - kernel) // stride + 1
            self.stage_sizes.append(dim if self.pooling == MEAN else freq * dim)
        self.layers = nn.Sequential(*stages, nn.Identity())
        self.embedding_size = self.stage_sizes[-1]

    def selectable_layers(self) -> tuple[Layer, ...]:
        return tuple(Layer(f"stage{i + 1}", size, self.pooling) for i, size in enumerate(self.stage_sizes))

    def layer_time_features(self, log_mel: Tensor, name: str) -> Tensor:
        return map_time_steps(self.layers[: self.layer_position(name)](log_mel), self.pooling)

    def time_features(self, log_mel: Tensor) -> Tensor:
        return map_time_steps(self.layers(log_mel), self.pooling)
