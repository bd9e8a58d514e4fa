"""The model object the HEAR API hands out: frontend + encoder + normalisation policy.

The encoder's state dict is exactly the original's (``model.encoder.state_dict()`` equals
the manifests); the frontend holds only derived, non-persistent buffers.
"""
from __future__ import annotations

from typing import ContextManager

import torch
from torch import Tensor, nn

from hear_byols.encoders import Encoder
from hear_byols.encoders.base import Layer, find_layer, require_pooling_over_time
from hear_byols.encoders.fast import encode, time_features
from hear_byols.errors import InvalidAudioError, InvalidModelError
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.logmel.normalization import Normalization
from hear_byols.inference.precision import FLOAT32, encoder_autocast
from hear_byols.variants import VariantSpec


class ByolsModel(nn.Module):
    """A loaded BYOL-S/BYOL-A variant with the attributes HEAR requires."""

    def __init__(
        self, spec: VariantSpec, encoder: Encoder, normalization: Normalization, weights: str | None = None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.variant = spec.name
        self.frontend = LogMelFrontend(spec.frontend)
        self.encoder = encoder
        self.normalization = normalization
        self.weights = weights
        self.timestamp_mode = "exact"
        #: ``load_model(precision=...)``: "float32" (exact), "tf32", "bf16" or "fp16" (hear_byols.inference.precision)
        self.precision = FLOAT32
        self.sample_rate = spec.frontend.sample_rate
        #: the encoder's layers, input side first; the last is the published embedding
        self.layers = encoder.selectable_layers()
        self.select_layer(None)
        self.eval()

    def select_layer(self, name: str | None) -> None:
        """Make the embeddings return layer ``name`` (``None``: the final, published one) and
        report its size as ``scene_embedding_size`` / ``timestamp_embedding_size``.

        ``load_model(layer=...)`` calls this; calling it on a loaded model probes several
        layers without loading the weights again.
        """
        chosen = self.layers[-1] if name is None else find_layer(self.layers, name, f"hear_byols.{self.variant}")
        self._layer = chosen
        self.scene_embedding_size = chosen.size
        self.timestamp_embedding_size = chosen.size

    def layer_for_call(self, layer: Layer | None) -> Layer:
        """``layer``, the snapshot an entry point took at its start, else the selected one.

        Entry points read ``selected_layer`` once and pass it to every forward pass, so another
        thread's ``select_layer`` during a call never mixes two layers in one result.
        """
        return self._layer if layer is None else layer

    @property
    def layer(self) -> str:
        """The selected layer's name (``select_layer`` changes it)."""
        return self._layer.name

    @property
    def selected_layer(self) -> Layer:
        return self._layer

    @property
    def final_layer_selected(self) -> bool:
        """Whether the embeddings are the published ones (computed by the eval fast paths)."""
        return self.is_final(self._layer)

    def is_final(self, layer: Layer) -> bool:
        """Whether ``layer`` is the published embedding (computed by the eval fast paths)."""
        return layer == self.layers[-1]

    @property
    def min_samples(self) -> int:
        """Shortest input (samples) both the STFT and the encoder's pooling stages accept."""
        front = self.spec.frontend
        return max(front.min_samples, (self.encoder.min_frames - 1) * front.hop_length)

    def require_samples(self, n_samples: int, what: str) -> None:
        """Reject inputs too short for the STFT or for the encoder's pooling stages."""
        if n_samples < self.min_samples:
            rate = self.sample_rate
            raise InvalidAudioError(
                f"{what} has {n_samples} samples ({1000 * n_samples / rate:.1f} ms); "
                f"hear_byols.{self.variant} needs at least {self.min_samples} samples "
                f"({1000 * self.min_samples / rate:.1f} ms) at {rate} Hz: zero-pad short clips"
            )

    def encoder_precision(self, device: torch.device) -> ContextManager[object]:
        """Wrap encoder calls: autocast when ``precision`` is bf16/fp16 (the frontend never is)."""
        return encoder_autocast(self.precision, device)

    def forward(self, log_mel: Tensor, layer: Layer | None = None) -> Tensor:
        """Normalised ``(B, n_mels, T)`` log-mel -> ``(B, size)`` embeddings of ``layer`` (default:
        the selected one; see ``layer_for_call``): the eval fast path for the final layer, the
        reference modules up to the layer otherwise."""
        layer = self.layer_for_call(layer)
        with self.encoder_precision(log_mel.device):
            if self.is_final(layer):
                return encode(self.encoder, log_mel.unsqueeze(1)).float()
            return self.encoder.layer_embedding(log_mel.unsqueeze(1), layer.name).float()

    def time_features(self, log_mel: Tensor, layer: Layer | None = None) -> Tensor:
        """Normalised ``(B, n_mels, T)`` log-mel -> ``(B, T', D)`` per-step features of ``layer``
        (default: the selected one), before its mean+max pooling (the sliding timestamp path)."""
        layer = self.layer_for_call(layer)
        self.require_pooling_over_time(layer)
        with self.encoder_precision(log_mel.device):
            if self.is_final(layer):
                return time_features(self.encoder, log_mel.unsqueeze(1)).float()
            return self.encoder.layer_time_features(log_mel.unsqueeze(1), layer.name).float()

    def require_pooling_over_time(self, layer: Layer | None = None) -> None:
        """Refuse the sliding timestamp path for a layer (default: the selected one) that is not a
        mean+max over time steps."""
        require_pooling_over_time(self.layers, self.layer_for_call(layer), f"hear_byols.{self.variant}")

    def extra_repr(self) -> str:
        return (
            f"variant={self.variant!r}, layer={self.layer!r}, normalization={self.normalization.as_option()!r}, "
            f"precision={self.precision!r}, weights={self.weights!r}"
        )


def require_byols_model(model: object) -> ByolsModel:
    """The API functions only work with models from ``load_model``: say so plainly."""
    if not isinstance(model, ByolsModel):
        raise InvalidModelError(
            f"model is a {type(model).__module__}.{type(model).__name__}, not a hear_byols model: "
            "create it with hear_byols.<variant>.load_model() (e.g. hear_byols.cvt.load_model(path))"
        )
    return model
