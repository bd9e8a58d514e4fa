"""CNN + bidirectional LSTM encoder (serab-byols ``clstm``): the last LSTM step is the embedding.

Layers: ``conv1``, ``conv2`` (each conv block's pooled output, mean+max over time: a conv map has
no summary state), ``lstm`` (the BiLSTM output at the last time step) and ``fc`` (the final
linear + ReLU on it: the embedding).
"""
from __future__ import annotations

from torch import Tensor, nn

from hear_byols.encoders.base import (
    LAST_STEP,
    MEAN_MAX,
    Encoder,
    Layer,
    conv_output_size,
    flatten_channels_per_time_step,
)
from hear_byols.errors import InvalidOptionError

#: modules per conv block: conv, batch norm, ReLU, max-pool
_BLOCK_MODULES = 4
#: mel bins of the reference's input
_N_MELS = 64


class CLSTM(Encoder):
    """Module tree (``conv.*``, ``bilstm.*``, ``fc_final.*``) identical to the reference's."""

    min_frames = 10  # 9x9 conv, pool, (4,3) conv, pool must leave one time step

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 256, 9, stride=1, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
            nn.Conv2d(256, 256, (4, 3), stride=1, padding=1),
            nn.BatchNorm2d(256),
            nn.ReLU(),
            nn.MaxPool2d(2, stride=2),
        )
        self.bilstm = nn.LSTM(input_size=3584, hidden_size=512, num_layers=1, bidirectional=True, batch_first=True)
        self.fc_final = nn.Sequential(nn.Linear(1024, 1024), nn.ReLU())
        self.embedding_size = 1024

    def forward(self, log_mel: Tensor) -> Tensor:
        return self.fc_final(self._last_lstm_step(log_mel))

    def _last_lstm_step(self, log_mel: Tensor) -> Tensor:
        sequence, _ = self.bilstm(flatten_channels_per_time_step(self.conv(log_mel)))
        return sequence[:, -1, :]

    def selectable_layers(self) -> tuple[Layer, ...]:
        convs, freq = [], _N_MELS
        for index, conv in enumerate(self.conv[0::_BLOCK_MODULES]):
            freq = conv_output_size(freq, conv) // 2  # then the 2x2 max-pool
            convs.append(Layer(f"conv{index + 1}", conv.out_channels * freq, MEAN_MAX))
        lstm_size = self.bilstm.hidden_size * (2 if self.bilstm.bidirectional else 1)
        return (*convs, Layer("lstm", lstm_size, LAST_STEP), Layer("fc", self.fc_final[0].out_features, LAST_STEP))

    def layer_time_features(self, log_mel: Tensor, name: str) -> Tensor:
        position = self.layer_position(name)
        n_blocks = len(self.conv) // _BLOCK_MODULES
        if position > n_blocks:
            raise InvalidOptionError(
                f"layer {name!r} of the CLSTM is the recurrent state at the last time step: it has no "
                "per-step features to pool (timestamp_mode='sliding' needs them); use timestamp_mode='exact'"
            )
        return flatten_channels_per_time_step(self.conv[: _BLOCK_MODULES * position](log_mel))

    def layer_embedding(self, log_mel: Tensor, name: str) -> Tensor:
        if name == "lstm":
            return self._last_lstm_step(log_mel)
        if name == "fc":
            return self.forward(log_mel)
        return super().layer_embedding(log_mel, name)
