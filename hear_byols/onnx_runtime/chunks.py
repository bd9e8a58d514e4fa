"""What a stream accepts: float32 mono samples in [-1, 1] at 16 kHz, checked chunk by chunk.

Refusing, not fixing: a stream that cast int16 PCM to float would embed values 32768 times too
large, and one that clipped or resampled would quietly embed other audio than the caller's.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from hear_byols.errors import AudioTypeError, InvalidAudioError
from hear_byols.onnx_runtime.framing import SAMPLE_RATE


def checked_chunk(chunk: Any, sample_rate: int | None = None) -> np.ndarray:
    """``chunk`` as a 1-D float32 array (no copy) once it is one, finite and within [-1, 1];
    ``sample_rate``, when the caller declares one, must be 16000."""
    if sample_rate is not None and (isinstance(sample_rate, bool) or sample_rate != SAMPLE_RATE):
        raise InvalidAudioError(
            f"the chunk is declared at sample_rate={sample_rate!r}; streams take {SAMPLE_RATE} Hz audio: "
            "resample it first (e.g. soxr.resample(x, rate, 16000)), hear_byols never resamples silently"
        )
    if not isinstance(chunk, np.ndarray):
        raise AudioTypeError(
            f"a chunk must be a numpy.ndarray of float32 samples, got {type(chunk).__name__}; "
            "e.g. np.asarray(samples, dtype=np.float32) for samples already in [-1, 1]"
        )
    if chunk.dtype != np.float32:
        fix = ("scale integer PCM to [-1, 1] first, e.g. x.astype(np.float32) / 32768 for int16"
               if chunk.dtype.kind in "iu" else "convert it with x.astype(np.float32) first")
        raise AudioTypeError(f"a chunk has dtype {chunk.dtype}, expected float32: {fix}")
    if chunk.ndim != 1:
        raise InvalidAudioError(
            f"a chunk has shape {chunk.shape}; streams take 1-D mono chunks (n_samples,): "
            "downmix several channels (e.g. x.mean(axis=1)) and push one stream per signal"
        )
    finite = np.isfinite(chunk)
    if not finite.all():
        raise InvalidAudioError(
            f"a chunk contains NaN or Inf (first at sample {int(np.argmin(finite))} of the chunk); clean the signal first"
        )
    if chunk.size and float(np.abs(chunk).max()) > 1.0:
        first = int(np.argmax(np.abs(chunk) > 1.0))
        raise InvalidAudioError(
            f"a chunk has samples outside [-1, 1] (first at sample {first} of the chunk: {float(chunk[first])!r}); "
            "scale the audio to [-1, 1] (float PCM), hear_byols does not clip"
        )
    return chunk
