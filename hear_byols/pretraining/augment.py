"""The BYOL-A/BYOL-S augmentations of the 2021 recipe, with explicit random generators.

The original drew from numpy's and Python's global generators inside DataLoader workers; here
every draw comes from one ``torch.Generator`` per rank, so a run is reproducible, its state is
saved in the checkpoint and a resumed run continues bit for bit. The arithmetic of each
operation is the original's (``tests/fixtures/golden/train_step.npz`` checks it).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

#: float32 machine epsilon: the original's floor in log-mixup-exp and NormalizeBatch.
EPS = float(torch.finfo(torch.float32).eps)


def log_mixup_exp(x: Tensor, z: Tensor, alpha: float) -> Tensor:
    """``log((1 - alpha) exp(x) + alpha exp(z) + eps)``: mixes in the linear power domain."""
    keep = 1.0 - alpha
    return torch.log(keep * x.exp() + (1.0 - keep) * z.exp() + EPS)


def normalize_batch(x: Tensor) -> Tensor:
    """NormalizeBatch: standardise ``(B, C, F, T)`` with the mean and unbiased std over axes
    0, 2, 3 (std clamped at eps); applied to both views together, as the original did."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp(EPS, torch.finfo(torch.float32).max)
    return (x - mean) / std


class MixupBank:
    """Mixup with a FIFO memory bank of past crops (BYOL-A's ``MixupBYOLA``, ratio 0.4).

    Each call draws ``alpha = ratio * U(0, 1)``, mixes ``x`` with a random bank entry (none
    while the bank is empty) and then pushes ``x``. As in the original, both views of a crop
    go through the same bank, so the crop enters it twice.
    """

    def __init__(self, capacity: int = 2048, ratio: float = 0.4) -> None:
        self.capacity, self.ratio = capacity, ratio
        self.bank: Tensor | None = None
        self.count = 0  # entries filled
        self.next = 0  # ring position of the next push

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        alpha = self.ratio * float(torch.rand((), generator=generator, dtype=torch.float64))
        mixed = x
        if self.count:
            pick = int(torch.randint(self.count, (), generator=generator))
            assert self.bank is not None
            mixed = log_mixup_exp(x, self.bank[pick], alpha)
        self._push(x)
        return mixed

    def _push(self, x: Tensor) -> None:
        if self.bank is None:
            self.bank = x.new_zeros((self.capacity, *x.shape))
        self.bank[self.next] = x.detach()
        self.next = (self.next + 1) % self.capacity
        self.count = min(self.count + 1, self.capacity)

    def state_dict(self) -> dict[str, Any]:
        bank = None if self.bank is None else self.bank[: self.count].cpu().clone()
        return {"bank": bank, "count": self.count, "next": self.next}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.bank, self.count, self.next = None, 0, 0
        if state["bank"] is not None:
            self.bank = state["bank"].new_zeros((self.capacity, *state["bank"].shape[1:]))
            self.bank[: state["count"]] = state["bank"]
        self.count, self.next = state["count"], state["next"]


def crop_box(shape: tuple[int, int], generator: torch.Generator, virtual_scale: tuple[float, float] = (1.0, 1.5),
             freq_scale: tuple[float, float] = (0.6, 1.5), time_scale: tuple[float, float] = (0.6, 1.5)
             ) -> tuple[int, int, int, int]:
    """A Random Resize Crop box ``(i, j, h, w)`` on the virtual canvas of an ``(F, T)`` input."""
    canvas_h, canvas_w = (int(s * c) for s, c in zip(shape, virtual_scale))
    u_f, u_t = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
    h = min(max(int((freq_scale[0] + u_f * (freq_scale[1] - freq_scale[0])) * shape[0]), 1), canvas_h)
    w = min(max(int((time_scale[0] + u_t * (time_scale[1] - time_scale[0])) * shape[1]), 1), canvas_w)
    i = int(torch.randint(canvas_h - h + 1, (), generator=generator)) if canvas_h > h else 0
    j = int(torch.randint(canvas_w - w + 1, (), generator=generator)) if canvas_w > w else 0
    return i, j, h, w


def resize_crop(lms: Tensor, box: tuple[int, int, int, int], virtual_scale: tuple[float, float] = (1.0, 1.5)) -> Tensor:
    """Cut ``box`` from a zero canvas ``virtual_scale`` times the size of ``lms (C, F, T)`` with
    ``lms`` in its centre, and resize it back to ``(F, T)`` (bicubic, ``align_corners=True``)."""
    channels, height, width = lms.shape
    canvas_h, canvas_w = (int(s * c) for s, c in zip((height, width), virtual_scale))
    canvas = lms.new_zeros((channels, canvas_h, canvas_w))
    top, left = (canvas_h - height) // 2, (canvas_w - width) // 2
    canvas[:, top : top + height, left : left + width] = lms
    i, j, h, w = box
    crop = canvas[:, i : i + h, j : j + w]
    return F.interpolate(crop.unsqueeze(0), size=(height, width), mode="bicubic", align_corners=True).squeeze(0)


class TwoViews:
    """The recipe's augmentation of one rank: for every crop, two views, each mixup then
    Random Resize Crop, drawn independently; the pair is normalised together afterwards."""

    def __init__(self, generator: torch.Generator, bank_size: int = 2048) -> None:
        self.generator = generator
        self.mixup = MixupBank(bank_size)

    def view(self, lms: Tensor) -> Tensor:
        mixed = self.mixup(lms, self.generator)
        return resize_crop(mixed, crop_box(tuple(lms.shape[-2:]), self.generator))

    def __call__(self, batch: Tensor) -> tuple[Tensor, Tensor]:
        """``(B, 1, F, T)`` pre-normalised log-mels -> two views, jointly batch-normalised."""
        first, second = [], []
        for lms in batch:
            first.append(self.view(lms))
            second.append(self.view(lms))
        paired = normalize_batch(torch.cat([torch.stack(first), torch.stack(second)]))
        return paired[: len(batch)], paired[len(batch) :]

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "mixup": self.mixup.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.mixup.load_state_dict(state["mixup"])
