"""Scene embeddings of many files per encoder pass, each equal to that file's embedding alone.

What may be batched: the reference normalisation of one clip uses that clip's own statistics
(the mean of one value is the value), which is exactly what ``per_clip`` computes for each clip
of a batch; fixed statistics do not depend on the batch at all. So a batch is encoded through a
view of the model whose ``reference`` is ``per_clip``, and every other step of the scene path is
per clip in eval mode. What may not: clips of different lengths would need padding, which
changes the log-mel statistics and the pooling, so only clips of the same sample count are
stacked. The outputs then differ from the per-file ones by float32 summation order only (the
kernels block a batch differently); tests/embed/test_cli_batched.py bounds the difference.

Memory: at most ``2 x batch_size`` clips wait for a batch (the largest group is encoded when
more arrive), and clips over ``MAX_BATCHED_SECONDS`` are not batched at all: the caller embeds
them alone, as before (a scene pass over a long clip fills the device by itself).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from hear_byols.audio.files import TARGET_RATE
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import PER_CLIP, REFERENCE, Normalization
from hear_byols.inference.scene import scene_embeddings

#: Longer clips are embedded alone (their log-mel alone is a full forward pass on CPU).
MAX_BATCHED_SECONDS = 30.0


@dataclass(frozen=True)
class Waiting:
    """A decoded clip waiting for its batch; ``key`` identifies it to the caller."""

    key: Any
    samples: torch.Tensor


def batch_free_view(model: ByolsModel) -> ByolsModel:
    """``model`` (sharing its modules and weights) with ``reference`` replaced by ``per_clip``."""
    if model.normalization.mode != REFERENCE:
        return model
    view = copy.copy(model)
    view.normalization = Normalization(PER_CLIP)
    return view


class SceneBatcher:
    """Groups clips of equal length into batches of up to ``batch_size``."""

    def __init__(self, model: ByolsModel, batch_size: int) -> None:
        self._view = batch_free_view(model)
        self._min_samples = model.min_samples
        self._batch_size = batch_size
        self._groups: dict[int, list[Waiting]] = {}
        self._waiting = 0

    def accepts(self, n_samples: int) -> bool:
        """Whether a clip of ``n_samples`` is batched (else: embed it alone)."""
        return self._min_samples <= n_samples <= MAX_BATCHED_SECONDS * TARGET_RATE

    def add(self, key: Any, samples: torch.Tensor) -> list[list[Waiting]]:
        """Queue a clip; returns the groups now due for encoding."""
        group = self._groups.setdefault(len(samples), [])
        group.append(Waiting(key, samples))
        self._waiting += 1
        if len(group) >= self._batch_size:
            return [self._take(len(samples))]
        if self._waiting > 2 * self._batch_size:
            return [self._take(max(self._groups, key=lambda length: len(self._groups[length])))]
        return []

    def drain(self) -> list[list[Waiting]]:
        """Every group still waiting (at the end of the input)."""
        return [self._take(length) for length in list(self._groups)]

    def encode(self, group: list[Waiting]) -> np.ndarray:
        """``(len(group), D)`` scene embeddings of a group's clips (on the model's device)."""
        return scene_embeddings(self._view, torch.stack([clip.samples for clip in group])).numpy()

    def _take(self, length: int) -> list[Waiting]:
        group = self._groups.pop(length)
        self._waiting -= len(group)
        return group
