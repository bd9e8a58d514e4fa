"""The BYOL learner of the 2021 recipe: online network, predictor, EMA target, symmetric loss.

Module names (``online_encoder.net``, ``online_encoder.projector``, ``online_predictor``,
``target_encoder``; MLP parts ``lin1``, ``bn``, ``lin2``) are the original's, so its states
and ours compare key by key. The target stays in train mode like the original's (its
BatchNorm layers use batch statistics) and is updated only by ``update_target``.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class MLP(nn.Module):
    """Linear -> BatchNorm1d -> ReLU -> Linear (projector and predictor)."""

    def __init__(self, dim: int, out_dim: int, hidden: int = 4096) -> None:
        super().__init__()
        self.lin1 = nn.Linear(dim, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.relu = nn.ReLU()
        self.lin2 = nn.Linear(hidden, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin2(self.relu(self.bn(self.lin1(x))))


class OnlineNetwork(nn.Module):
    """Encoder (the variant's, exported as ``encoder.pth``) followed by the projector."""

    def __init__(self, net: nn.Module, embedding_size: int, projection_size: int, hidden: int) -> None:
        super().__init__()
        self.net = net
        self.projector = MLP(embedding_size, projection_size, hidden)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        representation = self.net(x)
        return self.projector(representation), representation


def byol_loss(prediction: Tensor, target: Tensor) -> Tensor:
    """``2 - 2 cos(prediction, target)`` per sample."""
    return 2 - 2 * (F.normalize(prediction, dim=-1) * F.normalize(target, dim=-1)).sum(dim=-1)


class ByolLearner(nn.Module):
    """``forward(view1, view2)`` returns the symmetrised BYOL loss (batch mean) and the online
    representations of both views (an objective's heads read them)."""

    def __init__(self, net: nn.Module, embedding_size: int, projection_size: int = 256, hidden: int = 4096,
                 tau: float = 0.99) -> None:
        super().__init__()
        self.tau = tau
        self.online_encoder = OnlineNetwork(net, embedding_size, projection_size, hidden)
        self.online_predictor = MLP(projection_size, projection_size, hidden)
        self.target_encoder = copy.deepcopy(self.online_encoder)
        self.target_encoder.requires_grad_(False)

    def forward(self, view1: Tensor, view2: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        proj1, rep1 = self.online_encoder(view1)  # each view separately: BatchNorm statistics per view
        proj2, rep2 = self.online_encoder(view2)
        pred1, pred2 = self.online_predictor(proj1), self.online_predictor(proj2)
        with torch.no_grad():
            target1, _ = self.target_encoder(view1)
            target2, _ = self.target_encoder(view2)
        loss = byol_loss(pred1, target2.detach()) + byol_loss(pred2, target1.detach())
        return loss.mean(), (rep1, rep2)

    @torch.no_grad()
    def update_target(self) -> None:
        """``target = tau * target + (1 - tau) * online`` over the *parameters* (buffers are the
        target's own); called before each optimiser step, with the pre-step online weights."""
        for target, online in zip(self.target_encoder.parameters(), self.online_encoder.parameters()):
            target.copy_(target * self.tau + (1 - self.tau) * online)
