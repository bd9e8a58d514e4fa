"""The timestamp framing of ``hear_byols.timestamps`` in NumPy, and the buffer both streams share.

Offline, a clip of ``n`` samples is zero-padded by half a frame at both ends and frame ``k``
covers padded samples ``round(k * step) .. round(k * step) + frame - 1`` while it ends inside the
padded signal: ``1 + floor(n / step)`` frames for an integral step, centred at ``k * hop`` ms.
``FrameBuffer`` cuts exactly those frames from audio that arrives in chunks: frame ``k`` is ready
as soon as its last real sample has arrived (``flush`` supplies the end padding), and the buffer
keeps only the samples that frames not yet emitted still need: at most one frame plus the chunk
being pushed. Torch-free, so the ONNX runtime and the torch stream use the same code.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Iterator

import numpy as np

from hear_byols.errors import InvalidOptionError

SAMPLE_RATE = 16000
MS_PER_SECOND = 1000.0
#: serab-byols' timestamp framing: 1 s frames, 50 ms hop.
FRAME_MS = 1000.0
HOP_MS = 50.0


def hop_samples(hop_ms: Any, sample_rate: int = SAMPLE_RATE) -> float:
    """``hop_ms`` as a (possibly fractional) step in samples: a finite number of ms giving at
    least one sample (a shorter hop would emit several frames per sample, without end)."""
    if isinstance(hop_ms, bool) or not isinstance(hop_ms, numbers.Real) or not math.isfinite(float(hop_ms)):
        raise InvalidOptionError(f"hop_ms={hop_ms!r}: expected a finite number of milliseconds, e.g. hop_ms=50.0")
    step = float(hop_ms) / MS_PER_SECOND * sample_rate
    if step < 1.0:
        shortest = MS_PER_SECOND / sample_rate
        raise InvalidOptionError(
            f"hop_ms={hop_ms!r} is shorter than one sample at {sample_rate} Hz: use hop_ms >= {shortest:g} "
            f"(the HEAR default is {HOP_MS:g})"
        )
    return step


def frame_start(index: int, step: float) -> int:
    """Where frame ``index`` starts in the padded signal (Python's round, as the offline grid)."""
    return int(round(index * step))


def timestamp_ms(indices: np.ndarray | range, step: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Frame centres in ms as float32, computed as the offline path does (in double, then rounded)."""
    return np.array([k * step / sample_rate * MS_PER_SECOND for k in indices], dtype=np.float64).astype(np.float32)


class FrameBuffer:
    """Cuts the offline path's frames out of audio pushed in chunks of any size.

    ``push(samples)`` appends mono samples; ``frames(limit)`` yields ``(indices, frames)`` batches
    of at most ``limit`` ready frames ``(count, frame)``; ``flush()`` appends the end padding and
    marks the stream finished, after which the remaining frames are ready.
    """

    def __init__(self, frame: int, step: float) -> None:
        if frame < 1 or step < 1:
            raise InvalidOptionError(f"a frame of {frame} samples every {step} samples: both must be >= 1")
        self.frame = frame
        self.step = step
        self.pad_left = frame // 2
        self.pad_right = frame - frame // 2
        self._samples = np.zeros(self.pad_left, np.float32)  # padded samples from _offset on
        self._offset = 0  # padded position of _samples[0]
        self._next = 0  # index of the next frame to emit
        self.received = 0  # real samples pushed so far
        self.finished = False

    @property
    def retained(self) -> int:
        """Samples held now (the bound ``frame + chunk`` is tested)."""
        return int(self._samples.size)

    @property
    def emitted(self) -> int:
        """Frames handed out so far."""
        return self._next

    def push(self, samples: np.ndarray) -> None:
        """Append 1-D float32 samples (validated by the caller)."""
        if self.finished:
            raise InvalidOptionError("push() after flush(): the stream is finished; start a new one")
        self.received += int(samples.size)
        self._append(samples)

    def flush(self) -> None:
        """End of the audio: append the half frame of zero padding the offline path adds."""
        if self.finished:
            raise InvalidOptionError("flush() called twice: the stream is already finished")
        self.finished = True
        if self.received:
            self._append(np.zeros(self.pad_right, np.float32))
        else:  # no audio at all: no frames (the offline path refuses an empty clip)
            self._samples = np.zeros(0, np.float32)

    def _append(self, samples: np.ndarray) -> None:
        self._samples = np.concatenate([self._samples, samples.astype(np.float32, copy=False)])
        self._drop_before(frame_start(self._next, self.step))

    def _drop_before(self, position: int) -> None:
        """Forget padded samples before ``position``: no frame still to come reads them."""
        cut = min(position - self._offset, self._samples.size)
        if cut > 0:
            self._samples = self._samples[cut:].copy()
            self._offset += cut

    def _ready(self) -> int:
        """How many frames from ``_next`` on lie wholly inside the samples held."""
        end = self._offset + self._samples.size
        count = 0
        while frame_start(self._next + count, self.step) + self.frame <= end:
            count += 1
        return count

    def frames(self, limit: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(indices, frames)`` of the ready frames, at most ``limit`` per batch, in order."""
        while count := min(self._ready(), limit):
            indices = np.arange(self._next, self._next + count)
            starts = [frame_start(int(k), self.step) - self._offset for k in indices]
            batch = np.stack([self._samples[s : s + self.frame] for s in starts])
            self._next += count
            self._drop_before(frame_start(self._next, self.step))
            yield indices, batch
