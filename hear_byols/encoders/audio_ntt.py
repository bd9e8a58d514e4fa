"""AudioNTT2020 encoder (BYOL-A / BYOL-S): three conv blocks, an MLP per time step, mean+max."""
from __future__ import annotations

from torch import Tensor, nn

from hear_byols.encoders.base import Encoder, flatten_channels_per_time_step


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2),
    ]


class AudioNTT2020(Encoder):
    """Module tree (``features.*``, ``fc.*``) identical to the reference's, so checkpoints load."""

    min_frames = 8  # three 2x2 max-pools need 8 time steps to leave one

    def __init__(self, n_mels: int = 64, d: int = 2048) -> None:
        super().__init__()
        self.features = nn.Sequential(*_conv_block(1, 64), *_conv_block(64, 64), *_conv_block(64, 64))
        self.fc = nn.Sequential(
            nn.Linear(64 * (n_mels // 2**3), d),
            nn.ReLU(),
            nn.Dropout(p=0.3),
            nn.Linear(d, d),
            nn.ReLU(),
        )
        self.embedding_size = d

    def time_features(self, log_mel: Tensor) -> Tensor:
        return self.fc(flatten_channels_per_time_step(self.features(log_mel)))
