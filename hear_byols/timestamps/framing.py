"""The timestamp path's framing: centred 1 s frames every 50 ms (by default), as in serab-byols.

The audio is zero-padded by half a frame at both ends; frame k starts at ``round(k * step)``
of the padded signal and is kept while it ends inside it, so there are
``1 + floor(n_samples / step)`` frames for an integral step, centred at ``k * hop_size`` ms.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from hear_byols.errors import InvalidOptionError

#: serab-byols' timestamp framing (milliseconds): 1 s frames every 50 ms.
DEFAULT_FRAME_DURATION_MS = 1000.0
DEFAULT_HOP_SIZE_MS = 50.0
MS_PER_SECOND = 1000.0
#: Most frames one clip may get: 10 million frames at hop 50 ms is 139 hours of audio. A hop
#: such as 1e-300 ms would otherwise build its grid forever; its output could not fit anyway.
MAX_FRAMES = 10_000_000


def milliseconds(name: str, value: Any) -> float:
    """``value`` as a positive finite number of ms; refuses strings, None and booleans
    (``True`` would otherwise silently mean 1 ms)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidOptionError(
            f"{name}={value!r} ({type(value).__name__}): expected a number of milliseconds, e.g. {name}=50.0"
        )
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise InvalidOptionError(f"{name}={value!r} ms must be a positive finite number of milliseconds")
    return number


@dataclass(frozen=True)
class FrameGrid:
    """Where the frames of one clip length start in the padded signal, and their timestamps."""

    frame_size: int
    step: float
    starts: tuple[int, ...]
    sample_rate: int

    @property
    def n_frames(self) -> int:
        return len(self.starts)

    @property
    def pad_left(self) -> int:
        return self.frame_size // 2

    @property
    def pad_right(self) -> int:
        return self.frame_size - self.frame_size // 2

    @property
    def integral_step(self) -> int | None:
        """The step in samples when it is a whole number (all starts then equally spaced)."""
        return int(self.step) if float(self.step).is_integer() else None

    def timestamps_ms(self) -> Tensor:
        """Frame centres in milliseconds, float32 ``(n_frames,)``."""
        return torch.tensor(
            [k * self.step / self.sample_rate * MS_PER_SECOND for k in range(self.n_frames)], dtype=torch.float32
        )


def frame_grid(n_samples: int, sample_rate: int, frame_duration_ms: float, hop_size_ms: float) -> FrameGrid:
    """Frames for a clip of ``n_samples``; refuses frame sizes that are not whole samples."""
    frame_duration_ms = milliseconds("frame_duration", frame_duration_ms)
    hop_size_ms = milliseconds("hop_size", hop_size_ms)
    frame_size_exact = frame_duration_ms / MS_PER_SECOND * sample_rate
    frame_size = round(frame_size_exact)
    if abs(frame_size - frame_size_exact) > 1e-6:
        raise InvalidOptionError(
            f"frame_duration={frame_duration_ms} ms is {frame_size_exact} samples at {sample_rate} Hz; "
            "choose a duration that is a whole number of samples (e.g. 1000 ms)"
        )
    step = hop_size_ms / MS_PER_SECOND * sample_rate
    padded = n_samples + frame_size
    n_frames = n_samples / step + 1  # a float: the bound is checked before any int overflows
    if n_frames > MAX_FRAMES:
        shortest = MS_PER_SECOND * n_samples / (MAX_FRAMES - 1) / sample_rate
        raise InvalidOptionError(
            f"hop_size={hop_size_ms!r} ms gives {n_frames:.3g} frames for a clip of {n_samples} samples, more than "
            f"{MAX_FRAMES:,}; use hop_size >= {shortest:.3g} ms (the default is {DEFAULT_HOP_SIZE_MS:g} ms)"
        )
    starts = []
    k = 0
    while True:
        start = int(round(k * step))
        if start + frame_size > padded:
            break
        starts.append(start)
        k += 1
    return FrameGrid(frame_size, step, tuple(starts), sample_rate)


@dataclass(frozen=True)
class PaddedAudio:
    """``(b, n)`` audio read as if zero-padded by ``left`` / ``right`` samples, without the copy.

    A padded copy of a long recording would add the recording's whole size to peak memory;
    reads outside the audio (in the padding, or beyond it) return zeros.
    """

    audio: Tensor
    left: int
    right: int

    @property
    def length(self) -> int:
        """Samples of the padded signal."""
        return self.left + self.audio.shape[-1] + self.right

    def slice(self, begin: int, end: int) -> Tensor:
        """Padded samples ``begin .. end-1`` as ``(b, end - begin)``."""
        n = self.audio.shape[-1]
        inside = self.audio[:, min(max(begin - self.left, 0), n) : max(min(end - self.left, n), 0)]
        before = min(max(self.left - begin, 0), end - begin)
        return torch.nn.functional.pad(inside, (before, end - begin - before - inside.shape[-1]))

    def gather(self, index: Tensor) -> Tensor:
        """Padded samples at ``index`` (any shape) as ``(b, *index.shape)``."""
        position = index - self.left
        inside = (position >= 0) & (position < self.audio.shape[-1])
        values = self.audio[:, position.clamp(0, self.audio.shape[-1] - 1)]
        return torch.where(inside, values, values.new_zeros(()))


def pad_for_frames(audio: Tensor, grid: FrameGrid) -> PaddedAudio:
    """``(b, n)`` audio zero-padded by half a frame at both ends (a view, not a copy)."""
    return PaddedAudio(audio, grid.pad_left, grid.pad_right)


def frames_view(padded: PaddedAudio, grid: FrameGrid, first: int, count: int) -> Tensor:
    """Frames ``first .. first+count-1`` of the padded audio as ``(b, count, frame_size)``.

    A strided view of the chunk's span when the step is integral, a gather otherwise.
    """
    step = grid.integral_step
    if step is not None:
        start = grid.starts[first]
        span = padded.slice(start, start + (count - 1) * step + grid.frame_size)
        return span.unfold(-1, grid.frame_size, step)
    device = padded.audio.device
    # round(k * step) on the device (half to even, like Python's round): no host list copied per chunk
    index = torch.round(torch.arange(first, first + count, dtype=torch.float64, device=device) * grid.step).long()
    return padded.gather(index[:, None] + torch.arange(grid.frame_size, device=device))
