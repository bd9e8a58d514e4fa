"""Deterministic, untrained weights for tests, CI and offline demos.

The rule is the one of the golden fixtures (``tests/fixtures/README.md``): every state-dict entry gets its own
generator seeded with ``crc32(key)``, so a value depends only on the key and the shape. Such
checkpoints exercise every code path exactly like official weights, but their embeddings mean
nothing: scores computed with them are not comparable to published ones.
"""
from __future__ import annotations

import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from hear_byols.variants import variant_spec


def deterministic_value(key: str, shape: list[int] | tuple[int, ...]) -> torch.Tensor:
    """The rule's value for one state-dict entry."""
    if key.endswith("num_batches_tracked"):
        return torch.zeros(shape, dtype=torch.int64)
    generator = torch.Generator().manual_seed(zlib.crc32(key.encode("utf-8")))
    draw = torch.randn(shape, generator=generator, dtype=torch.float32)
    if key.endswith("running_var"):
        return draw.abs() * 0.5 + 0.5
    if (key.endswith(".weight") and len(shape) == 1) or key.endswith(".g"):
        return 1 + 0.05 * draw
    return 0.05 * draw


def deterministic_state_dict(variant: str, params: dict[str, Any] | None = None) -> "OrderedDict[str, torch.Tensor]":
    """The rule applied to every entry of ``variant``'s encoder (``params`` override its config's
    hyper-parameters, e.g. ``{"n_mels": 64, "d": 512}`` for BYOL-A d=512)."""
    encoder = variant_spec(variant).build_encoder(params, meta=True)
    return OrderedDict(
        (key, deterministic_value(key, tuple(value.shape))) for key, value in encoder.state_dict().items()
    )


def write_deterministic_checkpoint(variant: str, path: str | Path, params: dict[str, Any] | None = None) -> Path:
    """Save ``variant``'s deterministic state dict as a plain ``torch.save`` file; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(deterministic_state_dict(variant, params), path)
    return path
