"""Log-mel frontend in torch alone, numerically equal to the reference's torchaudio one.

The reference computes ``log(MelSpectrogram(...)(audio) + eps)`` with torchaudio's defaults
(periodic Hann window centred in the FFT frame, reflect padding, power 2, HTK mel scale,
triangular filters without area normalisation). We rebuild exactly that from ``torch.stft``
and a filterbank buffer so users are not tied to torchaudio's CUDA-pinned wheels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

#: ``log`` floor of the reference: float32 machine epsilon.
LOG_EPS = float(torch.finfo(torch.float32).eps)
#: STFT columns computed at once (~8 MB of complex spectrum per clip): bounds the memory of long clips.
COLUMNS_PER_STFT = 2048


@dataclass(frozen=True)
class FrontendSpec:
    """STFT and mel parameters of one variant (from its YAML config)."""

    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    f_min: float
    f_max: float

    @property
    def n_freqs(self) -> int:
        return self.n_fft // 2 + 1

    def n_columns(self, n_samples: int) -> int:
        """Number of STFT columns ``center=True`` yields for ``n_samples`` samples."""
        return 1 + n_samples // self.hop_length

    @property
    def min_samples(self) -> int:
        """Reflect padding of ``n_fft // 2`` needs strictly more samples than that."""
        return self.n_fft // 2 + 1


def _hz_to_mel_htk(freq: float) -> float:
    return 2595.0 * math.log10(1.0 + freq / 700.0)


def _mel_to_hz_htk(mels: Tensor) -> Tensor:
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


def mel_filterbank(spec: FrontendSpec) -> Tensor:
    """Triangular HTK-mel filterbank ``(n_freqs, n_mels)``, computed in float32 like torchaudio."""
    all_freqs = torch.linspace(0, spec.sample_rate // 2, spec.n_freqs)
    m_pts = torch.linspace(_hz_to_mel_htk(spec.f_min), _hz_to_mel_htk(spec.f_max), spec.n_mels + 2)
    f_pts = _mel_to_hz_htk(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - all_freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


class LogMelFrontend(nn.Module):
    """``audio (..., n_samples) -> log-mel (..., n_mels, n_columns)``, float32, any device.

    Buffers are non-persistent: they are derived from the config, so they never appear in
    (or conflict with) the encoder's state dict.
    """

    def __init__(self, spec: FrontendSpec) -> None:
        super().__init__()
        self.spec = spec
        self.register_buffer("window", torch.hann_window(spec.win_length), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(spec), persistent=False)
        support = self.padded_window().nonzero()
        #: first and last sample (of ``n_fft``) where the padded window is non-zero; plain ints,
        #: so the timestamp path reads them without a device-to-host copy
        self.window_support = (int(support[0]), int(support[-1]))

    def padded_window(self) -> Tensor:
        """The analysis window zero-padded (centred) to ``n_fft``, as ``torch.stft`` does."""
        left = (self.spec.n_fft - self.spec.win_length) // 2
        return nn.functional.pad(self.window, (left, self.spec.n_fft - self.spec.win_length - left))

    def power_to_log_mel(self, power: Tensor) -> Tensor:
        """``(..., n_freqs, T)`` power spectrogram -> ``(..., n_mels, T)`` log-mel."""
        mel = torch.matmul(power.transpose(-1, -2), self.filterbank).transpose(-1, -2)
        return torch.log(mel + LOG_EPS)

    def forward(self, audio: Tensor) -> Tensor:
        """``(..., n_samples)`` audio -> ``(..., n_mels, n_columns)`` log-mel (``center=True``,
        reflect padding), computed ``COLUMNS_PER_STFT`` columns at a time so the complex STFT
        of a long recording (1.5 GB for an hour) never exists whole."""
        lead = audio.shape[:-1]
        flat = audio.reshape(-1, audio.shape[-1])
        half = self.spec.n_fft // 2
        padded = nn.functional.pad(flat.unsqueeze(1), (half, half), mode="reflect").squeeze(1)
        log_mel = self.log_mel_of_segments(lambda begin, end: padded[:, begin:end], self.spec.n_columns(flat.shape[-1]))
        return log_mel.reshape(*lead, *log_mel.shape[-2:])

    def log_mel_of_segments(self, segment: Callable[[int, int], Tensor], n_columns: int) -> Tensor:
        """Log-mel ``(b, n_mels, n_columns)`` of a signal already padded by ``n_fft // 2`` at
        each end, read through ``segment(begin, end)`` one bounded run of columns at a time."""
        hop, n_fft = self.spec.hop_length, self.spec.n_fft
        log_mel: Tensor | None = None  # filled in place: concatenating the runs would hold the log-mel twice
        for first in range(0, n_columns, COLUMNS_PER_STFT):
            count = min(COLUMNS_PER_STFT, n_columns - first)
            part = self.segment_log_mel(segment(first * hop, (first + count - 1) * hop + n_fft))
            if log_mel is None:
                log_mel = part.new_empty(*part.shape[:-1], n_columns)
            log_mel[..., first : first + count] = part
        assert log_mel is not None  # n_columns >= 1 for any input the STFT accepts
        return log_mel

    def segment_log_mel(self, samples: Tensor) -> Tensor:
        """Log-mel of every full ``n_fft`` frame of ``(b, n)`` samples (``center=False``)."""
        stft = torch.stft(
            samples,
            n_fft=self.spec.n_fft,
            hop_length=self.spec.hop_length,
            win_length=self.spec.win_length,
            window=self.window,
            center=False,
            normalized=False,
            onesided=True,
            return_complex=True,
        )
        return self.power_to_log_mel(stft.real.square() + stft.imag.square())
