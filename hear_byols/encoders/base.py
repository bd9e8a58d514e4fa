"""What every encoder offers the model wrapper, whatever its architecture."""
from __future__ import annotations

from torch import Tensor, nn


def mean_plus_max_over_time(features: Tensor) -> Tensor:
    """BYOL-A's temporal pooling: ``mean + max`` over the time axis of ``(B, T, D)``."""
    return features.mean(dim=1) + features.amax(dim=1)


def flatten_channels_per_time_step(feature_map: Tensor) -> Tensor:
    """``(B, C, F, T) -> (B, T, F*C)`` in the reference's (mel-major, channel-minor) order."""
    batch, channels, freq, time = feature_map.shape
    return feature_map.permute(0, 3, 2, 1).reshape(batch, time, freq * channels)


class Encoder(nn.Module):
    """Base class: ``forward((B, 1, n_mels, T)) -> (B, embedding_size)``, shaped like the original.

    ``min_frames`` is the shortest log-mel (in STFT columns) the architecture accepts, so
    input validation can reject too-short clips with a clear message instead of a deep
    shape error. Encoders that pool over time define ``time_features`` (the per-step
    features before the mean+max pooling); the others override ``forward``.
    """

    embedding_size: int
    min_frames: int = 1

    def time_features(self, log_mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T) -> (B, T', D)`` features per encoder time step."""
        raise NotImplementedError(f"{type(self).__name__} does not pool over time")

    def forward(self, log_mel: Tensor) -> Tensor:
        return mean_plus_max_over_time(self.time_features(log_mel))
