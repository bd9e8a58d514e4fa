"""ResNet-ish encoder (serab-byols ``resnetish34``): ResNet basic blocks on the log-mel, mean+max.

Layers: ``stage1``..``stage4``, the output of each stage of blocks (``layer1``..``layer4`` in the
module tree), mean+max over time (``stage4`` is the embedding).
"""
from __future__ import annotations

from torch import Tensor, nn

from hear_byols.encoders.base import MEAN_MAX, Encoder, Layer, flatten_channels_per_time_step


#: mel bins after the stem's stride-2 max-pool (the reference is built for 64 mel bins)
_STEM_FREQ = 32
_WIDTHS = (64, 128, 256, 512)


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (projected when the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, out_channels, stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(out_channels, out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetish(Encoder):
    """Module tree (``conv1``, ``bn1``, ``layer1..4``) identical to the reference's."""

    def __init__(self, layers: list[int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=1, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        in_channels = 64
        for index, (width, n_blocks) in enumerate(zip(_WIDTHS, layers)):
            stride = 1 if index == 0 else 2
            blocks = [BasicBlock(in_channels, width, stride)]
            blocks += [BasicBlock(width, width) for _ in range(1, n_blocks)]
            self.add_module(f"layer{index + 1}", nn.Sequential(*blocks))
            in_channels = width
        self.embedding_size = self.selectable_layers()[-1].size  # 512 channels x 4 mel bins

    def selectable_layers(self) -> tuple[Layer, ...]:
        # every stage after the first halves the frequency axis
        return tuple(Layer(f"stage{i + 1}", width * (_STEM_FREQ >> i), MEAN_MAX) for i, width in enumerate(_WIDTHS))

    def layer_time_features(self, log_mel: Tensor, name: str) -> Tensor:
        return self._through_stage(log_mel, self.layer_position(name))

    def _through_stage(self, log_mel: Tensor, n_stages: int) -> Tensor:
        """Per-step features after the stem and the first ``n_stages`` stages."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(log_mel))))
        for index in range(n_stages):
            x = getattr(self, f"layer{index + 1}")(x)
        return flatten_channels_per_time_step(x)

    def time_features(self, log_mel: Tensor) -> Tensor:
        return self._through_stage(log_mel, len(_WIDTHS))
