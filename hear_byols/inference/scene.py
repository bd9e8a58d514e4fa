"""Scene embeddings: each whole clip -> log-mel -> normalise -> encoder once -> one vector.

Clips of equal length are encoded together (in bounded chunks), which is exact because the
encoders treat every batch item independently in eval mode.

A clip whose own log-mel is constant (digital silence) has no length to speak of: the encoder
would only see its zero-padded edges move. It is encoded as one second of its normalised value,
the frame each of its exact timestamps gets, so its embedding is the same at every length.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hear_byols.audio.validation import as_clip_groups
from hear_byols.inference.chunking import items_per_forward
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import apply_stats, clip_mean_std, describes_constant, scene_stats
from hear_byols.inference.runtime import inference, ordinary_empty

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
        constant = torch.cat([describes_constant(mean, std) for mean, std in clip_stats])
        steady_columns = model.spec.frontend.n_columns(model.sample_rate)
        means, stds = scene_stats(
            model.normalization, torch.cat([m for m, _ in clip_stats]), torch.cat([s for _, s in clip_stats])
        )
        out = ordinary_empty(n_clips, layer.size, device=device)
        offset = 0
        for group, log_mel in zip(groups, log_mels):
            size = len(group.indices)
            normalised = apply_stats(log_mel, means[offset : offset + size], stds[offset : offset + size])
            steady = constant[offset : offset + size]
            offset += size
            indices = torch.tensor(group.indices, device=steady.device)
            if steady.any():
                one_second = normalised[steady][..., :1].expand(-1, -1, steady_columns).contiguous()
                out[indices[steady]] = model(one_second, layer)
                normalised, indices = normalised[~steady], indices[~steady]
            if len(indices):
                per_forward = max(1, columns_per_forward // log_mel.shape[-1])
                out[indices] = torch.cat([model(chunk, layer) for chunk in normalised.split(per_forward)])
    return out.to(audio_device)
