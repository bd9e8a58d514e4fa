"""Assemble a ``ByolsModel`` from a variant spec and a checkpoint file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from hear_byols.checkpoint import encoder_state_dict, read_checkpoint
from hear_byols.encoders import build_encoder
from hear_byols.errors import CheckpointError
from hear_byols.model import ByolsModel
from hear_byols.normalization import parse_normalization
from hear_byols.variants import variant_spec


def model_from_checkpoint(variant: str, path: str | Path, normalization: Any = None) -> ByolsModel:
    """Build ``variant``'s encoder, load ``path`` into it with ``strict=True`` and wrap it.

    ``normalization=None`` means the variant's default (``reference`` for BYOL-S).
    """
    spec = variant_spec(variant)
    norm = parse_normalization(spec.default_normalization if normalization is None else normalization)
    state_dict = encoder_state_dict(read_checkpoint(path), variant, path)
    params = dict(spec.encoder_params)
    if spec.infer_from_checkpoint:
        # BYOL-A ships d = 512, 1024 and 2048: the embedding size is the first fc layer's width
        params["d"] = int(state_dict["fc.0.weight"].shape[0])
    encoder = build_encoder(spec.encoder_type, params)
    _check_shapes(encoder.state_dict(), state_dict, variant, path)
    encoder.load_state_dict(state_dict, strict=True)
    return ByolsModel(spec, encoder, norm, weights=str(path))


def _check_shapes(expected: dict[str, Tensor], found: dict[str, Tensor], variant: str, path: str | Path) -> None:
    """Name every tensor whose shape differs, instead of torch's generic size-mismatch error."""
    wrong = [
        f"{key}: expected {list(value.shape)}, found {list(found[key].shape)}"
        for key, value in expected.items()
        if found[key].shape != value.shape
    ]
    if wrong:
        raise CheckpointError(
            f"{path} has the keys of hear_byols.{variant} but {len(wrong)} tensors of other shapes "
            f"({'; '.join(wrong[:3])}): it was trained with other hyper-parameters than configs/{variant}.yaml"
        )
