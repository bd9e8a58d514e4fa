"""Encoders' eval-mode fast paths compute what their module trees compute."""
from __future__ import annotations

import pytest
import torch

from hear_byols.encoders.audio_ntt import AudioNTT2020


@pytest.mark.parametrize("n_frames", [8, 101, 1001, 37])
def test_audio_ntt_eval_features_equal_the_module_tree(n_frames: int) -> None:
    """Folded BatchNorm + pool-then-ReLU equals conv/BN/ReLU/MaxPool, odd sizes included."""
    torch.manual_seed(0)
    encoder = AudioNTT2020(n_mels=64, d=512).eval()
    for module in encoder.features:
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics, as in a trained model
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    log_mel = torch.randn(3, 1, 64, n_frames)
    with torch.inference_mode():
        expected = encoder.features(log_mel)
        got = encoder._eval_features(log_mel)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_audio_ntt_training_mode_uses_the_module_tree() -> None:
    """Training needs batch statistics: the folded path is only for eval mode."""
    encoder = AudioNTT2020(n_mels=64, d=512).train()
    log_mel = torch.randn(2, 1, 64, 16)
    torch.manual_seed(1)
    features = encoder.time_features(log_mel)
    assert features.requires_grad
    assert features.shape == (2, 2, 512)
