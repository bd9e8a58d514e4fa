"""Log-mels of the timestamp path's overlapping frames, chunk by chunk.

Two providers give identical numbers:

* ``MaterializedFrames`` runs the frontend on every 1 s frame, as the reference does
  (the straightforward implementation; also the only one for steps that are not a whole
  number of STFT hops).
* ``SharedStftFrames`` computes one STFT over the padded clip and reads each frame's columns
  from it. Frames start every ``step / hop_length`` STFT columns, and a column's FFT input
  only involves samples under the window's non-zero support, so every column whose support
  lies inside the frame is bit-for-bit the frame's own. Only the few columns near a frame's
  edges, where the per-frame STFT reflects the frame's own samples, are computed separately.
  The shared log-mel is built in column chunks, so memory stays proportional to the log-mel
  (256 bytes per 10 ms), not to ``frames x frame length``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from hear_byols.timestamps.framing import FrameGrid, PaddedAudio, frames_view
from hear_byols.frontend import LogMelFrontend


class MaterializedFrames:
    """Frame log-mels by running the frontend on each materialised frame."""

    def __init__(self, frontend: LogMelFrontend, padded: PaddedAudio, grid: FrameGrid) -> None:
        self.frontend = frontend
        self.padded = padded
        self.grid = grid

    def chunk(self, first: int, count: int) -> Tensor:
        """``(b, count, n_mels, frame_columns)`` log-mels of frames ``first .. first+count-1``."""
        return self.frontend(frames_view(self.padded, self.grid, first, count))


def shared_stft_applies(frontend: LogMelFrontend, grid: FrameGrid) -> bool:
    """The shared STFT needs frames that start on STFT column boundaries."""
    step = grid.integral_step
    return step is not None and step % frontend.spec.hop_length == 0


def _reflect(positions: Tensor, length: int) -> Tensor:
    """Index map of ``torch.stft``'s reflect padding (edge sample not repeated)."""
    positions = torch.where(positions < 0, -positions, positions)
    return torch.where(positions > length - 1, 2 * (length - 1) - positions, positions)


class SharedStftFrames:
    """Frame log-mels read from one shared STFT of the padded clip (see module docstring)."""

    def __init__(self, frontend: LogMelFrontend, padded: PaddedAudio, grid: FrameGrid) -> None:
        spec = frontend.spec
        self.frontend = frontend
        self.grid = grid
        self.columns_per_step = grid.integral_step // spec.hop_length
        self.frame_columns = spec.n_columns(grid.frame_size)
        window = frontend.padded_window()
        self.window = window
        support = window.nonzero().flatten()
        centres = torch.arange(self.frame_columns, device=padded.audio.device) * spec.hop_length
        first = centres - spec.n_fft // 2 + int(support[0])
        last = centres - spec.n_fft // 2 + int(support[-1])
        self.edge_columns = ((first < 0) | (last > grid.frame_size - 1)).nonzero().flatten()
        self.padded = padded
        self.shared = self._shared_log_mel(padded)

    def _shared_log_mel(self, padded: PaddedAudio) -> Tensor:
        """Log-mel of the whole padded clip, ``(b, n_mels, n_columns)``, built in column runs.

        Zero padding instead of reflect (read per segment, no padded copy of the clip): it only
        changes columns at the clip's two ends, which are edge columns of the first/last
        frames and are replaced by ``_edge_log_mels``.
        """
        half = self.frontend.spec.n_fft // 2
        return self.frontend.log_mel_of_segments(
            lambda begin, end: padded.slice(begin - half, end - half),
            self.frontend.spec.n_columns(padded.length),
        )

    def _edge_log_mels(self, first: int, count: int) -> Tensor:
        """Log-mels of the frames' edge columns, ``(b, count, n_mels, n_edge_columns)``."""
        spec = self.frontend.spec
        device = self.padded.audio.device
        offsets = torch.arange(spec.n_fft, device=device) - spec.n_fft // 2
        local = _reflect(self.edge_columns[:, None] * spec.hop_length + offsets, self.grid.frame_size)
        starts = torch.tensor(self.grid.starts[first : first + count], device=device)
        index = starts[:, None, None] + local  # (count, n_edge, n_fft)
        segments = self.padded.gather(index) * self.window  # (b, count, n_edge, n_fft)
        spectrum = torch.fft.rfft(segments)
        power = (spectrum.real.square() + spectrum.imag.square()).transpose(-1, -2)
        return self.frontend.power_to_log_mel(power)

    @property
    def edge_width(self) -> int:
        """Columns at each end of a frame that are the frame's own (the rest are the span's)."""
        middle = self.frame_columns // 2
        return int(max((self.edge_columns < middle).sum(), (self.edge_columns >= middle).sum()))

    def span(self, first: int, count: int) -> Tensor:
        """``(b, n_mels, L)``: the shared log-mel under frames ``first .. first+count-1``; frame
        ``first + k`` reads its non-edge columns from column ``k * columns_per_step``."""
        begin = first * self.columns_per_step
        return self.shared[..., begin : begin + (count - 1) * self.columns_per_step + self.frame_columns]

    def chunk(self, first: int, count: int) -> Tensor:
        """``(b, count, n_mels, frame_columns)`` log-mels of frames ``first .. first+count-1``."""
        span = self.span(first, count)
        frames = span.unfold(-1, self.frame_columns, self.columns_per_step).permute(0, 2, 1, 3).clone()
        frames[..., self.edge_columns] = self._edge_log_mels(first, count)
        return frames


def frame_log_mels(
    frontend: LogMelFrontend, padded: PaddedAudio, grid: FrameGrid, method: str = "auto"
) -> MaterializedFrames | SharedStftFrames:
    """The provider for ``method`` (``auto``: shared STFT whenever it applies)."""
    if method == "materialized" or (method == "auto" and not shared_stft_applies(frontend, grid)):
        return MaterializedFrames(frontend, padded, grid)
    return SharedStftFrames(frontend, padded, grid)
