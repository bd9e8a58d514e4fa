"""Log-mels of the timestamp path's overlapping frames, chunk by chunk.

Two providers give identical numbers:

* ``MaterializedFrames`` runs the frontend on every 1 s frame, as the reference does
  (the straightforward implementation; also the only one for steps that are not a whole
  number of STFT hops).
* ``SharedStftFrames`` computes one STFT over the padded clip and reads each frame's columns
  from it. Frames start every ``step / hop_length`` STFT columns, and a column's FFT input
  only involves samples under the window's non-zero support, so every column whose support
  lies inside the frame is the frame's own (bit for bit on the CPU; on CUDA within float32
  rounding, as cuFFT picks its plan by transform shape and batch). Only the few columns near a frame's
  edges, where the per-frame STFT reflects the frame's own samples, are computed separately.
  The shared log-mel is built in column chunks, so memory stays proportional to the log-mel
  (256 bytes per 10 ms), not to ``frames x frame length``.
"""
from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from hear_byols.timestamps.framing import FrameGrid, PaddedAudio, frames_view
from hear_byols.logmel.frontend import LogMelFrontend


#: every clip of the batch
ALL_CLIPS = slice(None)


def _clips_of(padded: PaddedAudio, clips: slice) -> PaddedAudio:
    """The padded audio of some clips only (a view)."""
    return padded if clips == ALL_CLIPS else dataclasses.replace(padded, audio=padded.audio[clips])


class MaterializedFrames:
    """Frame log-mels by running the frontend on each materialised frame."""

    def __init__(self, frontend: LogMelFrontend, padded: PaddedAudio, grid: FrameGrid) -> None:
        self.frontend = frontend
        self.padded = padded
        self.grid = grid

    def chunk(self, first: int, count: int, clips: slice = ALL_CLIPS) -> Tensor:
        """``(b, count, n_mels, frame_columns)`` log-mels of frames ``first .. first+count-1``
        of the ``clips``."""
        return self.frontend(frames_view(_clips_of(self.padded, clips), self.grid, first, count))


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
        device = padded.audio.device
        self.window = frontend.padded_window()
        # index maps built once per call on the host, copied once (not per chunk)
        centres = torch.arange(self.frame_columns) * spec.hop_length
        first = centres - spec.n_fft // 2 + frontend.window_support[0]
        last = centres - spec.n_fft // 2 + frontend.window_support[1]
        edge_columns = ((first < 0) | (last > grid.frame_size - 1)).nonzero().flatten()
        middle = self.frame_columns // 2
        # columns at each end of a frame that are the frame's own (the rest are the span's)
        self.edge_width = int(max((edge_columns < middle).sum(), (edge_columns >= middle).sum()))
        offsets = torch.arange(spec.n_fft) - spec.n_fft // 2
        self.edge_columns = edge_columns.to(device)
        self.edge_samples = _reflect(edge_columns[:, None] * spec.hop_length + offsets, grid.frame_size).to(device)
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

    def _edge_log_mels(self, first: int, count: int, clips: slice) -> Tensor:
        """Log-mels of the frames' edge columns, ``(b, count, n_mels, n_edge_columns)``."""
        # frame k starts at k * step (the shared STFT needs an integral step): an arange, no copy
        starts = torch.arange(first, first + count, device=self.edge_samples.device) * self.grid.integral_step
        index = starts[:, None, None] + self.edge_samples  # (count, n_edge, n_fft)
        segments = _clips_of(self.padded, clips).gather(index) * self.window  # (b, count, n_edge, n_fft)
        spectrum = torch.fft.rfft(segments)
        power = (spectrum.real.square() + spectrum.imag.square()).transpose(-1, -2)
        return self.frontend.power_to_log_mel(power)

    def span(self, first: int, count: int, clips: slice = ALL_CLIPS) -> Tensor:
        """``(b, n_mels, L)``: the shared log-mel of the ``clips`` under frames
        ``first .. first+count-1``; frame ``first + k`` reads its non-edge columns from column
        ``k * columns_per_step``."""
        begin = first * self.columns_per_step
        return self.shared[clips, :, begin : begin + (count - 1) * self.columns_per_step + self.frame_columns]

    def chunk(self, first: int, count: int, clips: slice = ALL_CLIPS) -> Tensor:
        """``(b, count, n_mels, frame_columns)`` log-mels of frames ``first .. first+count-1``
        of the ``clips``."""
        span = self.span(first, count, clips)
        frames = span.unfold(-1, self.frame_columns, self.columns_per_step).permute(0, 2, 1, 3).clone()
        frames[..., self.edge_columns] = self._edge_log_mels(first, count, clips)
        return frames


def frame_log_mels(
    frontend: LogMelFrontend, padded: PaddedAudio, grid: FrameGrid, method: str = "auto"
) -> MaterializedFrames | SharedStftFrames:
    """The provider for ``method`` (``auto``: shared STFT whenever it applies)."""
    if method == "materialized" or (method == "auto" and not shared_stft_applies(frontend, grid)):
        return MaterializedFrames(frontend, padded, grid)
    return SharedStftFrames(frontend, padded, grid)
