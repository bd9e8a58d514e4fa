"""Encoder architectures, built by name from a variant config."""
from __future__ import annotations

from typing import Any, Callable

from hear_byols.encoders.audio_ntt import AudioNTT2020
from hear_byols.encoders.base import Encoder
from hear_byols.encoders.clstm import CLSTM
from hear_byols.encoders.cvt import CvT
from hear_byols.encoders.resnetish import ResNetish
from hear_byols.errors import InvalidOptionError

ENCODER_TYPES: dict[str, Callable[..., Encoder]] = {
    "audio_ntt": AudioNTT2020,
    "resnetish": ResNetish,
    "clstm": CLSTM,
    "cvt": CvT,
}


def build_encoder(encoder_type: str, params: dict[str, Any]) -> Encoder:
    """Instantiate an encoder in eval mode from its config ``type`` and ``params``."""
    try:
        factory = ENCODER_TYPES[encoder_type]
    except KeyError:
        raise InvalidOptionError(
            f"unknown encoder type {encoder_type!r} in a variant config; known: {sorted(ENCODER_TYPES)}"
        ) from None
    return factory(**params).eval()


__all__ = ["Encoder", "build_encoder", "ENCODER_TYPES", "AudioNTT2020", "CLSTM", "CvT", "ResNetish"]
