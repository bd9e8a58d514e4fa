"""The HEAR 2021 API, written once and bound to each variant by the thin variant modules."""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

from torch import Tensor

from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.encoders.base import Layer, find_layer, require_pooling_over_time
from hear_byols.inference.model import ByolsModel, require_byols_model
from hear_byols.inference.nonfinite import require_finite
from hear_byols.inference.scene import scene_embeddings
from hear_byols.errors import InvalidOptionError
from hear_byols.logmel.normalization import parse_normalization
from hear_byols.inference.precision import FLOAT32, parse_precision
from hear_byols.timestamps import (
    DEFAULT_FRAME_DURATION_MS,
    DEFAULT_HOP_SIZE_MS,
    sliding_timestamp_embeddings,
    timestamp_embeddings,
)
from hear_byols.timestamps.framing import milliseconds
from hear_byols.variants import variant_names, variant_spec
from hear_byols.weights import default_weight_file, resolve_weights, variant_note

TIMESTAMP_MODES = {"exact": timestamp_embeddings, "sliding": sliding_timestamp_embeddings}


def load_model(
    model_file_path: str = "",
    *,
    variant: str,
    normalization: Any = None,
    timestamp_mode: str = "exact",
    precision: str = FLOAT32,
    layer: str | None = None,
) -> ByolsModel:
    """Load ``variant`` with its weights.

    ``model_file_path``: a checkpoint file; empty means the official weights (override dir,
    package ``checkpoints/``, user cache, else a verified download). ``normalization``:
    ``"reference"`` (default, as published), ``"per_clip"``, ``[mean, std]`` or the path of a
    ``stats.json`` of ``hear-byols stats`` (its frontend must be the variant's; docs/STATS.md).
    ``timestamp_mode``: ``"exact"`` (default, the reference's numbers) or ``"sliding"`` (one
    encoder pass per clip, pooled per window: much faster, approximate). ``precision``:
    ``"float32"`` (default, exact: TF32 off, the caller's autocast ignored), ``"tf32"`` (TF32
    tensor cores on CUDA), ``"bf16"`` or ``"fp16"`` (the encoder under autocast; the frontend
    and statistics stay float32; outputs are float32). ``layer``: ``None`` (default, the
    published embedding) or the name of an intermediate layer (``list_layers(variant)``;
    ``model.layer`` holds it, ``model.scene_embedding_size`` its size). Compute runs on the
    model's device: move it once with ``model.to(device)``.
    """
    check_option_values(variant, normalization, timestamp_mode, precision, layer)
    path = resolve_weights(variant, model_file_path or "")
    model = model_from_checkpoint(variant, path, normalization)
    model.select_layer(layer)
    model.timestamp_mode = timestamp_mode
    model.precision = parse_precision(precision)
    return model


def check_load_options(variant: str, options: Mapping[str, Any]) -> None:
    """Raise the InvalidOptionError that ``hear_byols.<variant>.load_model(**options)`` would,
    without looking for weights or building a model, so that a harness can refuse bad
    ``--model-options`` before it starts any work (``python -m evaluation run``)."""
    parameters = inspect.signature(load_model).parameters.values()
    defaults = {p.name: p.default for p in parameters if p.kind is p.KEYWORD_ONLY and p.name != "variant"}
    unknown = [name for name in options if name not in defaults]
    if unknown:
        raise InvalidOptionError(
            f"{', '.join(map(repr, unknown))}: not an option of hear_byols.{variant}.load_model; "
            f"it takes {', '.join(defaults)}"
        )
    check_option_values(variant, **(defaults | dict(options)))


def check_option_values(variant: str, normalization: Any, timestamp_mode: Any, precision: Any, layer: Any) -> None:
    """``load_model``'s checks of its options, made before any weights are looked for (none of
    them depends on the weights)."""
    spec = variant_spec(variant)
    if not isinstance(timestamp_mode, str) or timestamp_mode not in TIMESTAMP_MODES:
        raise InvalidOptionError(f"timestamp_mode={timestamp_mode!r}; choose one of {list(TIMESTAMP_MODES)}")
    parse_precision(precision)
    if normalization is not None:
        parse_normalization(normalization, spec.frontend, spec.module)
    # a bad layer, or one the timestamp mode cannot pool, fails before any weights are looked for
    # (layer names and poolings never depend on them)
    layers, owner = spec.layers(), f"hear_byols.{variant}"
    chosen = layers[-1] if layer is None else find_layer(layers, layer, owner)
    if timestamp_mode == "sliding":
        require_pooling_over_time(layers, chosen, owner)


def get_scene_embeddings(audio: Any, model: ByolsModel) -> Tensor:
    """``(n_sounds, scene_embedding_size)`` float32, on the audio's device; never NaN or Inf
    (see ``require_finite``)."""
    model = require_byols_model(model)
    return require_finite(scene_embeddings(model, audio), audio, model)


def get_timestamp_embeddings(
    audio: Any,
    model: ByolsModel,
    frame_duration: float = DEFAULT_FRAME_DURATION_MS,
    hop_size: float = DEFAULT_HOP_SIZE_MS,
) -> tuple[Tensor, Tensor]:
    """Embeddings ``(n_sounds, n_frames, D)`` of 1 s frames every ``hop_size`` ms, and their
    centres in ms ``(n_sounds, n_frames)``; never NaN or Inf (see ``require_finite``)."""
    model = require_byols_model(model)
    milliseconds("frame_duration", frame_duration)  # refuse 'abc', None, True before any work
    milliseconds("hop_size", hop_size)
    embeddings, timestamps = TIMESTAMP_MODES[model.timestamp_mode](model, audio, frame_duration, hop_size)
    return require_finite(embeddings, audio, model), timestamps


def list_layers(variant: str) -> list[Layer]:
    """``variant``'s layers for ``load_model(layer=...)``, input side first; the last is the
    published embedding. BYOL-A's MLP widths follow its checkpoint (listed here for d=2048)."""
    return list(variant_spec(variant).layers())


class VariantApi(NamedTuple):
    """The three HEAR functions of one variant (unpacks as a tuple)."""

    load_model: Callable[..., ByolsModel]
    get_scene_embeddings: Callable[..., Tensor]
    get_timestamp_embeddings: Callable[..., tuple[Tensor, Tensor]]


def variant_api(variant: str) -> VariantApi:
    """HEAR functions bound to ``variant`` (used by ``hear_byols.<variant>`` modules)."""
    spec = variant_spec(variant)

    def load(model_file_path: str = "", **options: Any) -> ByolsModel:
        return load_model(model_file_path, variant=variant, **options)

    load.__doc__ = f"Load {spec.title} (hear_byols.{variant}).\n\n{load_model.__doc__}"
    return VariantApi(load, get_scene_embeddings, get_timestamp_embeddings)


@dataclass(frozen=True)
class VariantInfo:
    """What ``list_variants`` tells about one variant."""

    name: str
    module: str
    title: str
    encoder: str
    embedding_size: int
    param_count: int
    weights_file: str | None
    note: str | None


def list_variants() -> list[VariantInfo]:
    """All variants with their metadata (parameter counts come from meta-device encoders)."""
    infos = []
    for name in variant_names():
        spec = variant_spec(name)
        weights = default_weight_file(name)
        infos.append(
            VariantInfo(
                name=name,
                module=f"hear_byols.{name}",
                title=spec.title,
                encoder=spec.encoder_type,
                embedding_size=spec.embedding_size,
                param_count=_param_count(name),
                weights_file=weights.filename if weights else None,
                note=variant_note(name),
            )
        )
    return infos


def _param_count(variant: str) -> int:
    return sum(p.numel() for p in variant_spec(variant).build_encoder(meta=True).parameters())
