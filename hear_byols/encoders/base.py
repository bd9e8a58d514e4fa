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
    """Base class: ``forward((B, 1, n_mels, T)) -> (B, embedding_size)``.

    ``min_frames`` is the shortest log-mel (in STFT columns) the architecture accepts, so
    input validation can reject too-short clips with a clear message instead of a deep
    shape error. Encoders that pool over time also expose ``time_features`` (the per-step
    features before pooling), which the sliding timestamp path pools over windows.
    """

    embedding_size: int
    min_frames: int = 1
    poolable: bool = True

    @property
    def shares_overlapping_frames(self) -> bool:
        """Whether ``overlapping_frame_embeddings`` exists (and applies: eval mode only)."""
        return False

    def overlapping_frame_embeddings(self, span: Tensor, frames: Tensor, step: int, edge_width: int) -> Tensor:
        """Embeddings ``(b, count, D)`` of frames ``(b, count, n_mels, W)`` read every ``step``
        columns from ``span`` ``(b, n_mels, L)`` (except ``edge_width`` columns at each end),
        computing what overlapping frames share only once."""
        raise NotImplementedError

    def time_features(self, log_mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T) -> (B, T', D)`` features per encoder time step."""
        raise NotImplementedError

    def forward(self, log_mel: Tensor) -> Tensor:
        return mean_plus_max_over_time(self.time_features(log_mel))
