"""Scene embeddings: each whole clip -> log-mel -> normalise -> encoder once -> one vector.

Clips of equal length are encoded together (in bounded chunks), which is exact because the
encoders treat every batch item independently in eval mode.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.audio.validation import as_clip_groups
from hear_byols.chunking import items_per_forward
from hear_byols.model import ByolsModel
from hear_byols.normalization import apply_stats, clip_mean_std, scene_stats
from hear_byols.runtime import inference, ordinary_empty

#: STFT columns encoded per forward pass on CPU (about two 10 s clips): chunks that keep the
#: activations in cache beat one big batch (measured in benchmarks/RESULTS.md); bounds memory.
COLUMNS_PER_FORWARD = 2048
#: At most this many columns per pass on a GPU (~22 min of audio), however much memory is free.
MAX_COLUMNS_PER_FORWARD = 1 << 17


def scene_embeddings(model: ByolsModel, audio: Any) -> Tensor:
    """``(n_sounds, scene_embedding_size)`` float32 on the audio's device."""
    groups, n_clips, audio_device = as_clip_groups(audio)
    for group in groups:
        model.require_samples(group.audio.shape[1], f"clip(s) {group.indices}")
    layer = model.selected_layer  # one layer for the whole call, whatever other threads select
    with inference(model) as device:
        columns_per_forward = items_per_forward(device, COLUMNS_PER_FORWARD, 1, MAX_COLUMNS_PER_FORWARD)
        log_mels = [model.frontend(group.audio.to(device)) for group in groups]
        clip_stats = [clip_mean_std(log_mel) for log_mel in log_mels]
        means, stds = scene_stats(
            model.normalization, torch.cat([m for m, _ in clip_stats]), torch.cat([s for _, s in clip_stats])
        )
        out = ordinary_empty(n_clips, layer.size, device=device)
        offset = 0
        for group, log_mel in zip(groups, log_mels):
            size = len(group.indices)
            normalised = apply_stats(log_mel, means[offset : offset + size], stds[offset : offset + size])
            offset += size
            per_forward = max(1, columns_per_forward // log_mel.shape[-1])
            embeddings = torch.cat([model(chunk, layer) for chunk in normalised.split(per_forward)])
            out[group.indices] = embeddings
    return out.to(audio_device)
