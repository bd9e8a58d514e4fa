"""The log-mel frontend as a real-valued DFT, for graphs that must work at any length.

``LogMelFrontend`` computes the STFT with ``torch.stft`` a bounded run of columns at a time.
Neither exports to ONNX: the legacy exporter cannot take the complex STFT, and the dynamo
exporter unrolls the Python loop over column runs, which freezes the input length at the
example's. This module computes the same power spectrum without complex numbers and without a
length-dependent loop: reflect padding, then one strided 1-D convolution whose kernels are the
windowed cosine and sine rows of the DFT (framing and the matmul with a windowed cos/sin basis
in one operator), ``re^2 + im^2``, then ``LogMelFrontend``'s own filterbank and log.

Only the ``win_length`` samples where the padded window is non-zero are multiplied (400 of the
1024 of ``n_fft`` for every variant), so the basis is ``(2 * n_freqs, win_length)``. The basis is
built in float64 from exact integer phases (``(k * n) mod n_fft``) and rounded once to float32.
Measured against ``LogMelFrontend`` (tests/export/test_dft.py): max |difference| / max |value|
of the log-mel at most 4.4e-7 at every length tested (0.03-3 s, multiples of the hop or not).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from hear_byols.logmel.frontend import FrontendSpec, LogMelFrontend


def windowed_dft_basis(spec: FrontendSpec, support: tuple[int, int]) -> Tensor:
    """``(2 * n_freqs, 1, taps)`` float32 kernels: rows ``w[n] cos(2 pi k n / n_fft)`` then
    ``-w[n] sin(...)`` for ``n`` over the window's non-zero ``support`` (first, last) of ``n_fft``."""
    first, last = support
    left = (spec.n_fft - spec.win_length) // 2
    window = torch.hann_window(spec.win_length, dtype=torch.float64)
    padded = torch.zeros(spec.n_fft, dtype=torch.float64)
    padded[left : left + spec.win_length] = window
    samples = torch.arange(first, last + 1, dtype=torch.int64)
    freqs = torch.arange(spec.n_freqs, dtype=torch.int64)
    phase = (freqs[:, None] * samples[None, :]) % spec.n_fft  # exact in integers
    angle = phase.double() * (2.0 * math.pi / spec.n_fft)
    taps = padded[first : last + 1]
    basis = torch.cat([torch.cos(angle) * taps, -torch.sin(angle) * taps])
    return basis.float().unsqueeze(1)


class DftLogMelFrontend(LogMelFrontend):
    """``audio (batch, n_samples) -> log-mel (batch, n_mels, 1 + n_samples // hop)``, equal to
    ``LogMelFrontend`` up to float32 rounding, in operators that export for any length."""

    def __init__(self, spec: FrontendSpec) -> None:
        super().__init__(spec)
        self.register_buffer("dft_basis", windowed_dft_basis(spec, self.window_support), persistent=False)

    def forward(self, audio: Tensor) -> Tensor:
        """``(batch, n_samples)`` float32 -> ``(batch, n_mels, n_columns)`` (``center=True``)."""
        half = self.spec.n_fft // 2
        first, last = self.window_support
        padded = nn.functional.pad(audio.unsqueeze(1), (half, half), mode="reflect")
        # column c's frame starts at c * hop of the padded signal; its non-zero taps at c * hop + first
        taps = padded[:, :, first:]
        spectrum = nn.functional.conv1d(taps, self.dft_basis, stride=self.spec.hop_length)
        n_columns = audio.shape[-1] // self.spec.hop_length + 1
        spectrum = spectrum[:, :, :n_columns]
        real, imag = spectrum.split(self.spec.n_freqs, dim=1)
        return self.power_to_log_mel(real.square() + imag.square())
