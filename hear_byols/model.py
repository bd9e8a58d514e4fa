"""The model object the HEAR API hands out: frontend + encoder + normalisation policy.

The encoder's state dict is exactly the original's (``model.encoder.state_dict()`` equals
the manifests); the frontend holds only derived, non-persistent buffers.
"""
from __future__ import annotations

from typing import ContextManager

import torch
from torch import Tensor, nn

from hear_byols.encoders import Encoder
from hear_byols.encoders.fast import encode
from hear_byols.errors import InvalidAudioError, InvalidModelError
from hear_byols.frontend import LogMelFrontend
from hear_byols.normalization import Normalization
from hear_byols.precision import FLOAT32, encoder_autocast
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
        #: ``load_model(precision=...)``: "float32" (exact), "tf32", "bf16" or "fp16" (hear_byols.precision)
        self.precision = FLOAT32
        self.sample_rate = spec.frontend.sample_rate
        self.scene_embedding_size = encoder.embedding_size
        self.timestamp_embedding_size = encoder.embedding_size
        self.eval()

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

    def forward(self, log_mel: Tensor) -> Tensor:
        """Normalised ``(B, n_mels, T)`` log-mel -> ``(B, embedding_size)`` (eval fast path)."""
        with self.encoder_precision(log_mel.device):
            return encode(self.encoder, log_mel.unsqueeze(1)).float()

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, normalization={self.normalization.as_option()!r}, precision={self.precision!r}, weights={self.weights!r}"


def require_byols_model(model: object) -> ByolsModel:
    """The API functions only work with models from ``load_model``: say so plainly."""
    if not isinstance(model, ByolsModel):
        raise InvalidModelError(
            f"model is a {type(model).__module__}.{type(model).__name__}, not a hear_byols model: "
            "create it with hear_byols.<variant>.load_model() (e.g. hear_byols.cvt.load_model(path))"
        )
    return model
