"""Eval-time fast paths of the encoders, kept apart from the reference-shaped modules.

The encoders in ``hear_byols.encoders`` mirror the original code (and train as it did). The
functions here are what inference calls instead: chosen by encoder type, in eval mode only,
each equal to the reference computation up to float rounding (tests/encoders/test_encoder_eval_paths.py).
An encoder type without a fast path here runs its reference ``time_features``, so a new
architecture works before anyone writes one.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from hear_byols.encoders.audio_ntt import AudioNTT2020
from hear_byols.encoders.base import Encoder, pool_over_time
from hear_byols.encoders.cvt import CvT
from hear_byols.encoders.fast import audio_ntt
from hear_byols.encoders.fast.audio_ntt_overlap import overlapping_frame_embeddings
from hear_byols.encoders.resnetish import ResNetish

#: Fast per-time-step features of the encoder types that have one (CLSTM does not pool over
#: time: its embedding is the last recurrent state).
_TIME_FEATURES: dict[type, Callable[[Encoder, Tensor], Tensor]] = {
    AudioNTT2020: audio_ntt.time_features,
    CvT: CvT.time_features,
    ResNetish: ResNetish.time_features,
}


def pools_over_time(encoder: Encoder) -> bool:
    """Whether the embedding is ``Encoder.forward``'s pooling of ``time_features``: encoders that
    compute it otherwise (CLSTM: the last recurrent state) override ``forward``."""
    return type(encoder).forward is Encoder.forward


def encode(encoder: Encoder, log_mel: Tensor) -> Tensor:
    """``encoder(log_mel)`` (``(B, 1, n_mels, T) -> (B, D)``) through its eval fast path."""
    if encoder.training or not pools_over_time(encoder):
        return encoder(log_mel)
    return pool_over_time(time_features(encoder, log_mel), encoder.pooling)


def time_features(encoder: Encoder, log_mel: Tensor) -> Tensor:
    """``encoder.time_features(log_mel)`` through its eval fast path, if its type has one."""
    fast_path = _TIME_FEATURES.get(type(encoder))
    if encoder.training or fast_path is None:
        return encoder.time_features(log_mel)
    return fast_path(encoder, log_mel)


def shares_overlapping_frames(encoder: Encoder) -> bool:
    """Whether ``overlapping_frame_embeddings`` applies (AudioNTT in eval mode)."""
    return isinstance(encoder, AudioNTT2020) and not encoder.training


__all__ = ["encode", "overlapping_frame_embeddings", "pools_over_time", "shares_overlapping_frames", "time_features"]
