"""Scene embeddings: each whole clip -> log-mel -> normalise -> encoder once -> one vector.

Clips of equal length are encoded together (in bounded chunks), which is exact because the
encoders treat every batch item independently in eval mode.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.audio.validation import as_clip_groups
from hear_byols.model import ByolsModel
from hear_byols.normalization import apply_stats, clip_mean_std, scene_stats

#: STFT columns encoded per forward pass (about two 10 s clips): on CPU, chunks that keep the
#: activations in cache beat one big batch (measured in benchmarks/RESULTS.md); bounds memory.
COLUMNS_PER_FORWARD = 2048


def scene_embeddings(model: ByolsModel, audio: Any) -> Tensor:
    """``(n_sounds, scene_embedding_size)`` float32 on the audio's device."""
    groups, n_clips, device = as_clip_groups(audio)
    for group in groups:
        model.require_samples(group.audio.shape[1], f"clip(s) {group.indices}")
    model.to(device)
    with torch.inference_mode():
        log_mels = [model.frontend(group.audio) for group in groups]
        clip_stats = [clip_mean_std(log_mel) for log_mel in log_mels]
        means, stds = scene_stats(
            model.normalization, torch.cat([m for m, _ in clip_stats]), torch.cat([s for _, s in clip_stats])
        )
        out = torch.empty(n_clips, model.scene_embedding_size, device=device)
        offset = 0
        for group, log_mel in zip(groups, log_mels):
            size = len(group.indices)
            normalised = apply_stats(log_mel, means[offset : offset + size], stds[offset : offset + size])
            offset += size
            per_forward = max(1, COLUMNS_PER_FORWARD // log_mel.shape[-1])
            embeddings = torch.cat([model(chunk) for chunk in normalised.split(per_forward)])
            out[group.indices] = embeddings
    return out
