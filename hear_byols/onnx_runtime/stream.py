"""Frames emitted as soon as their samples exist, for any per-frame encoder (ONNX or torch).

With fixed normalisation statistics every frame of the exact timestamp path is encoded on its
own, so encoding each frame the moment ``FrameBuffer`` completes it gives the offline result,
whatever the chunking. Bounded: the buffer holds at most one frame plus the chunk being pushed,
and the encoder sees at most ``batch`` frames at once (memory: frame + chunk + one batch of
frames and their activations). Latency of a frame, from its centre's sample arriving: half a
frame (500 ms) plus up to one chunk, plus the compute.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np

from hear_byols.errors import InvalidOptionError
from hear_byols.onnx_runtime.chunks import checked_chunk
from hear_byols.onnx_runtime.framing import FRAME_MS, HOP_MS, MS_PER_SECOND, SAMPLE_RATE, FrameBuffer, hop_samples, timestamp_ms

#: Frames per encoder call by default: small batches keep activations in cache on a CPU.
DEFAULT_BATCH = 16
#: ``encode(frames)``: ``(count, frame)`` float32 audio -> ``(count, dim)`` float32 embeddings.
FrameEncoder = Callable[[np.ndarray], np.ndarray]
#: ``(embeddings (count, dim) float32, timestamps (count,) float32 in ms)``
Emitted = tuple[np.ndarray, np.ndarray]


def checked_batch(batch: Any) -> int:
    """``batch`` frames per encoder call: an integer >= 1."""
    if isinstance(batch, bool) or not isinstance(batch, numbers.Integral) or batch < 1:
        raise InvalidOptionError(f"batch={batch!r}: expected a whole number of frames >= 1, e.g. batch={DEFAULT_BATCH}")
    return int(batch)


class FrameStream:
    """``push(chunk) -> (embeddings, timestamps)`` of the frames the chunk completed; ``flush()``
    for the rest. ``encode`` maps a batch of 1 s frames to their embeddings."""

    def __init__(self, encode: FrameEncoder, dim: int, hop_ms: float = HOP_MS, batch: int = DEFAULT_BATCH,
                 frame_ms: float = FRAME_MS) -> None:
        self._encode = encode
        self.dim = dim
        self.hop_ms = float(hop_ms)
        self.batch = checked_batch(batch)
        frame = round(frame_ms / MS_PER_SECOND * SAMPLE_RATE)
        self._buffer = FrameBuffer(frame, hop_samples(hop_ms))

    @property
    def retained(self) -> int:
        """Audio samples held now: at most one frame plus the last chunk."""
        return self._buffer.retained

    @property
    def emitted(self) -> int:
        """Frames emitted so far."""
        return self._buffer.emitted

    def push(self, chunk: Any, sample_rate: int | None = None) -> Emitted:
        """Append a chunk (1-D float32 in [-1, 1] at 16 kHz, any length, empty too); returns the
        frames it completed. ``sample_rate``: declare the chunk's rate to have it checked."""
        if self._buffer.finished:
            raise InvalidOptionError("push() after flush(): this stream is finished; start a new one")
        self._buffer.push(checked_chunk(chunk, sample_rate))
        return self._emit()

    def flush(self) -> Emitted:
        """End of the audio: the remaining frames, with the offline path's zero padding at the end."""
        self._buffer.flush()
        return self._emit()

    def _emit(self) -> Emitted:
        embeddings, indices = [], []
        for batch_indices, frames in self._buffer.frames(self.batch):
            embeddings.append(np.asarray(self._encode(frames), dtype=np.float32).reshape(len(frames), self.dim))
            indices.append(batch_indices)
        if not embeddings:
            return np.zeros((0, self.dim), np.float32), np.zeros(0, np.float32)
        order = np.concatenate(indices)
        return np.concatenate(embeddings), timestamp_ms(order, self._buffer.step)
