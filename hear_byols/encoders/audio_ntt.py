"""AudioNTT2020 encoder (BYOL-A / BYOL-S): three conv blocks, an MLP per time step, mean+max.

Layers: ``conv1``..``conv3`` (each block's pooled output), ``fc1`` and ``fc2`` (the output of
each MLP layer after its ReLU; ``fc2`` is the embedding), all mean+max over time.
"""
from __future__ import annotations

from torch import Tensor, nn

from hear_byols.encoders.base import MEAN_MAX, Encoder, Layer, flatten_channels_per_time_step


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, stride=1, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(2, stride=2),
    ]


#: modules per conv block: conv, batch norm, ReLU, max-pool
_BLOCK_MODULES = 4
#: where each MLP layer ends in ``fc``: ``fc[:2]`` is linear + ReLU, ``fc[:5]`` adds the dropout
#: (identity in eval mode), the second linear and its ReLU; each layer's linear is at ``end - 2``
_MLP_ENDS = (2, 5)


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
        self.n_mels = n_mels

    def selectable_layers(self) -> tuple[Layer, ...]:
        n_blocks = len(self.features) // _BLOCK_MODULES
        channels = [block.out_channels for block in self.features[0::_BLOCK_MODULES]]
        convs = [Layer(f"conv{i + 1}", channels[i] * (self.n_mels // 2 ** (i + 1)), MEAN_MAX) for i in range(n_blocks)]
        mlp = [Layer(f"fc{i + 1}", self.fc[end - 2].out_features, MEAN_MAX) for i, end in enumerate(_MLP_ENDS)]
        return (*convs, *mlp)

    def layer_time_features(self, log_mel: Tensor, name: str) -> Tensor:
        position = self.layer_position(name)
        n_blocks = len(self.features) // _BLOCK_MODULES
        steps = flatten_channels_per_time_step(self.features[: _BLOCK_MODULES * min(position, n_blocks)](log_mel))
        return steps if position <= n_blocks else self.fc[: _MLP_ENDS[position - n_blocks - 1]](steps)

    def time_features(self, log_mel: Tensor) -> Tensor:
        return self.fc(flatten_channels_per_time_step(self.features(log_mel)))
