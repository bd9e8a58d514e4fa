"""The inputs a graph is verified on, and what the package's PyTorch path gives for them.

Lengths are given in seconds (``MIN``: the shortest input the model accepts) and every length is
checked at every batch size; a graph with its frontend is also checked on a batch whose second
row is digital silence (the scene path's special case). The audio is deterministic (a seeded
noise floor under a frequency-modulated tone), so two exports check the same numbers.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import torch
from torch import Tensor, nn

from hear_byols.api import get_scene_embeddings
from hear_byols.errors import InvalidOptionError
from hear_byols.export.verify import CheckCase
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import Normalization, apply_stats, clip_mean_std, scene_stats

#: ``check_seconds`` entry meaning the shortest input the model accepts.
MIN = "min"
DEFAULT_CHECK_SECONDS: tuple[object, ...] = (MIN, 1.0, 10.0, 30.0)
DEFAULT_CHECK_BATCHES = (1, 2)
_SEED = 20
#: Length of the batch whose second row is digital silence (the scene path encodes one second of it).
SILENT_CHECK_SAMPLES = 24_000


def check_lengths(model: ByolsModel, seconds: Sequence[object]) -> list[tuple[str, int]]:
    """``(label, samples)`` for each entry of ``seconds``; refuses lengths the model cannot take."""
    if isinstance(seconds, (str, bytes)) or not isinstance(seconds, Sequence) or not seconds:
        raise InvalidOptionError(f"check_seconds={seconds!r}: expected a non-empty list of seconds or {MIN!r}")
    lengths = []
    for value in seconds:
        if value == MIN:
            lengths.append((f"min ({model.min_samples} samples)", model.min_samples))
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise InvalidOptionError(f"check_seconds entry {value!r}: expected a number of seconds or {MIN!r}")
        samples = round(float(value) * model.sample_rate)
        if samples < model.min_samples:
            raise InvalidOptionError(
                f"check_seconds entry {value!r}: {samples} samples is shorter than the {model.min_samples} "
                f"hear_byols.{model.variant} accepts; use {MIN!r} for the shortest"
            )
        lengths.append((f"{float(value):g} s", samples))
    return lengths


def check_batches(batches: Sequence[object]) -> list[int]:
    """The batch sizes, each a positive int."""
    if isinstance(batches, (str, bytes)) or not isinstance(batches, Sequence) or not batches:
        raise InvalidOptionError(f"check_batches={batches!r}: expected a non-empty list of batch sizes")
    for value in batches:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidOptionError(f"check_batches entry {value!r}: expected a positive integer")
    return [int(value) for value in batches]


def check_audio(batch: int, samples: int, sample_rate: int) -> Tensor:
    """``(batch, samples)`` deterministic speech-like test audio in [-1, 1], float32."""
    generator = torch.Generator().manual_seed(_SEED + samples)
    t = torch.arange(samples, dtype=torch.float64) / sample_rate
    rows = []
    for row in range(batch):
        pitch = 150.0 * (row + 1) * (1 + 0.3 * torch.sin(2 * math.pi * 3.0 * t))
        tone = 0.3 * torch.sin(2 * math.pi * torch.cumsum(pitch, 0) / sample_rate)
        rows.append(tone + 0.05 * torch.randn(samples, generator=generator, dtype=torch.float64))
    return torch.stack(rows).float()


def normalised_log_mel(model: ByolsModel, normalization: Normalization, audio: Tensor) -> Tensor:
    """What the scene path feeds the encoder for ``audio`` (the input of a frontend-less graph)."""
    with torch.no_grad():
        log_mel = model.frontend(audio)
        means, stds = scene_stats(normalization, *clip_mean_std(log_mel))
        return apply_stats(log_mel, means, stds)


def build_cases(
    model: ByolsModel, module: nn.Module, normalization: Normalization, include_frontend: bool,
    lengths: list[tuple[str, int]], batches: list[int],
) -> list[CheckCase]:
    """One case per (length, batch size), plus a silent row when the frontend is included."""
    inputs = [(f"{label}, batch {batch}", check_audio(batch, samples, model.sample_rate))
              for label, samples in lengths for batch in batches]
    if include_frontend:
        # not 1 s: there, encoding the whole clip and encoding one second of it are the same
        silent = check_audio(2, SILENT_CHECK_SAMPLES, model.sample_rate)
        silent[1] = 0.0
        inputs.append((f"{SILENT_CHECK_SAMPLES / model.sample_rate:g} s, row 2 silent", silent))
    cases = []
    for label, audio in inputs:
        with torch.no_grad():
            if include_frontend:
                graph_input, expected = audio, get_scene_embeddings(audio, model)
            else:
                graph_input = normalised_log_mel(model, normalization, audio)
                expected = model(graph_input)
            modules = module(graph_input)
        cases.append(CheckCase(label, graph_input.numpy(), expected.numpy(), modules.numpy()))
    return cases
