"""CNN + bidirectional LSTM encoder (serab-byols ``clstm``): the last LSTM step is the embedding."""
from __future__ import annotations

from torch import Tensor, nn

from hear_byols.encoders.base import Encoder, flatten_channels_per_time_step


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
        sequence, _ = self.bilstm(flatten_channels_per_time_step(self.conv(log_mel)))
        return self.fc_final(sequence[:, -1, :])
