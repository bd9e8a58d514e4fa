"""What every encoder offers the model wrapper, whatever its architecture."""
from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from hear_byols.errors import InvalidOptionError

#: How a layer's per-time-step features become one vector.
MEAN_MAX = "mean+max over time"
#: SERAB's CvT ``pool='mean'`` (``AdaptiveAvgPool2d(1)``): a map's mean over mel bins and time,
#: one value per channel. Its per-time-step features are the map's mean over mel bins.
MEAN = "mean over mel and time"
LAST_STEP = "last time step"
#: The poolings that reduce per-time-step features (so windows of steps can be pooled alike).
POOLINGS_OVER_TIME = (MEAN_MAX, MEAN)


def mean_plus_max_over_time(features: Tensor) -> Tensor:
    """BYOL-A's temporal pooling: ``mean + max`` over the time axis of ``(B, T, D)``."""
    return features.mean(dim=1) + features.amax(dim=1)


def pool_over_time(features: Tensor, pooling: str) -> Tensor:
    """``(B, T, D) -> (B, D)`` by ``pooling`` (one of ``POOLINGS_OVER_TIME``)."""
    if pooling == MEAN_MAX:
        return mean_plus_max_over_time(features)
    if pooling == MEAN:
        return features.mean(dim=1)
    raise ValueError(f"{pooling!r} does not pool over time steps; choose one of {POOLINGS_OVER_TIME}")


def flatten_channels_per_time_step(feature_map: Tensor) -> Tensor:
    """``(B, C, F, T) -> (B, T, F*C)`` in the reference's (mel-major, channel-minor) order."""
    batch, channels, freq, time = feature_map.shape
    return feature_map.permute(0, 3, 2, 1).reshape(batch, time, freq * channels)


def map_time_steps(feature_map: Tensor, pooling: str) -> Tensor:
    """A ``(B, C, F, T)`` map's per-time-step features for ``pooling``: ``(B, T, F*C)`` for
    mean+max; ``(B, T, C)``, the mean over mel bins, for MEAN (whose mean over time is then the
    map's mean over mel and time, as every step has the same number of bins)."""
    if pooling == MEAN:
        return feature_map.mean(dim=2).transpose(1, 2)
    return flatten_channels_per_time_step(feature_map)


def conv_output_size(size: int, conv: nn.Conv2d, axis: int = 0) -> int:
    """Length along ``axis`` (0: frequency) of ``conv``'s output for an input of ``size``."""
    kernel, stride = conv.kernel_size[axis], conv.stride[axis]
    padding, dilation = conv.padding[axis], conv.dilation[axis]  # type: ignore[index]
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(frozen=True)
class Layer:
    """One representation an encoder can return (``load_model(layer=name)``)."""

    name: str
    #: embedding size: channels x frequency bins of a feature map, or a vector's width
    size: int
    #: ``MEAN_MAX`` or ``LAST_STEP``: how the per-step features are pooled into one vector
    pooling: str

    @property
    def pools_over_time(self) -> bool:
        """Whether the layer pools per-time-step features (the sliding path needs it)."""
        return self.pooling in POOLINGS_OVER_TIME


class Encoder(nn.Module):
    """Base class: ``forward((B, 1, n_mels, T)) -> (B, embedding_size)``, shaped like the original.

    ``min_frames`` is the shortest log-mel (in STFT columns) the architecture accepts, so
    input validation can reject too-short clips with a clear message instead of a deep
    shape error. Encoders that pool over time define ``time_features`` (the per-step
    features before ``pooling``); the others override ``forward``.

    ``selectable_layers`` lists the intermediate representations (input side first; the last
    is ``forward``'s); ``layer_embedding`` computes one of them through the reference modules,
    stopping at that layer. These are methods only: the module tree and state dict stay the
    reference's.
    """

    embedding_size: int
    min_frames: int = 1
    #: how ``forward`` pools ``time_features`` (``POOLINGS_OVER_TIME``); encoders that override
    #: ``forward`` (CLSTM) do not use it
    pooling: str = MEAN_MAX

    def time_features(self, log_mel: Tensor) -> Tensor:
        """``(B, 1, n_mels, T) -> (B, T', D)`` features per encoder time step."""
        raise NotImplementedError(f"{type(self).__name__} does not pool over time")

    def forward(self, log_mel: Tensor) -> Tensor:
        return pool_over_time(self.time_features(log_mel), self.pooling)

    def selectable_layers(self) -> tuple[Layer, ...]:
        """The layers ``load_model(layer=...)`` accepts, input side first; the last is the output."""
        raise NotImplementedError(f"{type(self).__name__} defines no layers")

    def layer_position(self, name: str) -> int:
        """1-based position of layer ``name`` in ``selectable_layers()``."""
        layers = self.selectable_layers()
        return layers.index(find_layer(layers, name, type(self).__name__)) + 1

    def layer_time_features(self, log_mel: Tensor, name: str) -> Tensor:
        """``(B, 1, n_mels, T) -> (B, T', D)``: per-step features of a layer that pools over time."""
        raise NotImplementedError(f"{type(self).__name__} defines no layers")

    def layer_embedding(self, log_mel: Tensor, name: str) -> Tensor:
        """``(B, 1, n_mels, T) -> (B, D)``: layer ``name`` pooled the way the encoder pools."""
        layer = find_layer(self.selectable_layers(), name, type(self).__name__)
        return pool_over_time(self.layer_time_features(log_mel, name), layer.pooling)


def require_pooling_over_time(layers: tuple[Layer, ...], layer: Layer, owner: str) -> None:
    """Refuse the sliding timestamp path for ``layer`` (one of ``owner``'s ``layers``) when it is
    not a mean+max over time steps, naming the layers that are."""
    if layer.pools_over_time:
        return
    pooled = [each.name for each in layers if each.pools_over_time]
    raise InvalidOptionError(
        f"timestamp_mode='sliding' needs a layer that pools over time; layer {layer.name!r} of "
        f"{owner} is the last recurrent state: use timestamp_mode='exact'"
        + (f", or one of the layers {pooled}" if pooled else "")
    )


def find_layer(layers: tuple[Layer, ...], name: object, owner: str) -> Layer:
    """The layer called ``name`` (any JSON value may arrive here), else an InvalidOptionError
    that lists ``owner``'s layers and their sizes."""
    for layer in layers:
        if layer.name == name:
            return layer
    listed = ", ".join(f"{layer.name!r} ({layer.size})" for layer in layers)
    raise InvalidOptionError(
        f"layer={name!r} is not a layer of {owner}; choose one of {listed} "
        f"(embedding sizes in brackets; the last, {layers[-1].name!r}, is the default, published embedding)"
    )
