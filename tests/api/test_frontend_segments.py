"""The frontend computes long clips in bounded runs of STFT columns with the same numbers."""
from __future__ import annotations

import torch

from hear_byols.logmel.frontend import COLUMNS_PER_STFT


def test_long_clip_log_mel_equals_one_stft(frontend) -> None:
    """45 s (several runs of columns, reflect-padded ends) against one centred torch.stft."""
    audio = torch.randn(2, 720_000, generator=torch.Generator().manual_seed(5)) * 0.1
    spec = frontend.spec
    assert spec.n_columns(audio.shape[-1]) > 2 * COLUMNS_PER_STFT
    stft = torch.stft(audio, spec.n_fft, spec.hop_length, spec.win_length, frontend.window,
                      center=True, pad_mode="reflect", return_complex=True)
    expected = frontend.power_to_log_mel(stft.real.square() + stft.imag.square())
    got = frontend(audio)
    assert got.shape == expected.shape == (2, spec.n_mels, spec.n_columns(audio.shape[-1]))
    assert (got - expected).abs().max() <= 1e-5
