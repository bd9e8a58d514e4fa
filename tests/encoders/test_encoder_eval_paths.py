"""The eval-mode fast paths (hear_byols.encoders.fast) compute what the module trees compute."""
from __future__ import annotations

import pytest
import torch

from hear_byols.encoders import ENCODER_TYPES, build_encoder, fast
from hear_byols.encoders.audio_ntt import AudioNTT2020
from hear_byols.encoders.base import MEAN_MAX, Encoder, Layer, flatten_channels_per_time_step
from hear_byols.encoders.fast import audio_ntt as fast_audio_ntt
from helpers.variants import encoder_type, one_variant_per


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
        got = fast_audio_ntt.eval_features(encoder, log_mel)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


def test_training_mode_uses_the_module_tree() -> None:
    """Training needs batch statistics: the folded path is only for eval mode."""
    encoder = AudioNTT2020(n_mels=64, d=512).train()
    log_mel = torch.randn(2, 1, 64, 16)
    features = fast.time_features(encoder, log_mel)
    assert features.requires_grad
    assert features.shape == (2, 2, 512)
    assert not fast.shares_overlapping_frames(encoder)
    torch.manual_seed(1)
    expected = encoder(log_mel)
    torch.manual_seed(1)  # same dropout mask
    assert torch.equal(fast.encode(encoder, log_mel), expected)


@pytest.mark.parametrize(
    ("step", "width", "edge_width", "count"),
    [(5, 101, 2, 40), (1, 101, 2, 9), (3, 64, 4, 17), (8, 101, 0, 6), (13, 101, 3, 5), (5, 20, 2, 4)],
)
def test_audio_ntt_overlapping_frames_equal_frame_by_frame(step: int, width: int, edge_width: int, count: int) -> None:
    """Sharing the span's work between overlapping frames changes nothing but rounding,
    for any step, frame width and number of frame-specific edge columns (too-short frames
    fall back to frame by frame)."""
    generator = torch.Generator().manual_seed(step * 1000 + width)
    encoder = AudioNTT2020(n_mels=64, d=256).eval()
    span = torch.randn(2, 64, (count - 1) * step + width, generator=generator)
    frames = span.unfold(-1, width, step).permute(0, 2, 1, 3).clone()
    if edge_width:  # the frames' own edge columns (their STFT reflects at the frame's ends)
        frames[..., :edge_width] = torch.randn(2, count, 64, edge_width, generator=generator)
        frames[..., width - edge_width :] = torch.randn(2, count, 64, edge_width, generator=generator)
    assert fast.shares_overlapping_frames(encoder)
    with torch.inference_mode():
        expected = encoder(frames.flatten(0, 1).unsqueeze(1)).unflatten(0, (2, count))
        got = fast.overlapping_frame_embeddings(encoder, span, frames, step, edge_width)
    assert got.shape == expected.shape
    assert (got - expected).abs().max() <= 1e-6 * expected.abs().max()


@pytest.mark.parametrize(
    ("variant", "hop_ms", "n_clips", "n_samples"),
    [("default", 10.0, 2, 26400), ("default", 100.0, 2, 52800), ("byola", 50.0, 2, 52800), ("default", 250.0, 1, 344000)],
)
def test_timestamps_with_shared_frames_equal_materialized(
    checkpoint_path, variant: str, hop_ms: float, n_clips: int, n_samples: int
) -> None:
    """The whole exact timestamp path (shared STFT + shared encoder work) against materialised
    frames, for hops other than the goldens' 50 ms, for BYOL-A's wider STFT window, and for a
    clip long enough (21.5 s) that the shared STFT is built in several segments."""
    from hear_byols.inference.checkpoint import model_from_checkpoint
    from hear_byols.timestamps.exact import timestamp_embeddings

    model = model_from_checkpoint(variant, checkpoint_path(variant))
    audio = torch.randn(n_clips, n_samples, generator=torch.Generator().manual_seed(3)) * 0.1
    shared, _ = timestamp_embeddings(model, audio, hop_size=hop_ms, frame_method="shared_stft")
    materialized, _ = timestamp_embeddings(model, audio, hop_size=hop_ms, frame_method="materialized")
    assert (shared - materialized).abs().max() <= 1e-5 * materialized.abs().max()


@pytest.mark.parametrize("n_columns", [8 * 512, 8 * 512 + 7, 8 * 1100 + 3, 8 * 1537])
def test_audio_ntt_long_inputs_in_windows_equal_one_pass(n_columns: int) -> None:
    """Long clips are encoded in overlapping windows (bounded memory) with the same steps."""
    torch.manual_seed(2)
    encoder = AudioNTT2020(n_mels=64, d=128).eval()
    log_mel = torch.randn(2, 1, 64, n_columns)
    with torch.inference_mode():
        windowed = fast.time_features(encoder, log_mel)
        whole = encoder.time_features(log_mel)  # the reference module tree, one pass
    assert windowed.shape == whole.shape == (2, n_columns // 8, 128)
    assert (windowed - whole).abs().max() <= 1e-6 * whole.abs().max()


@pytest.mark.parametrize("variant", one_variant_per(encoder_type))
def test_fast_encode_equals_the_module_tree(variant: str) -> None:
    """What inference calls (``fast.encode``) against the reference-shaped ``encoder(x)``."""
    from hear_byols.testing import deterministic_state_dict
    from hear_byols.variants import variant_spec

    encoder = variant_spec(variant).build_encoder()
    encoder.load_state_dict(deterministic_state_dict(variant))
    log_mel = torch.randn(2, 1, 64, 96, generator=torch.Generator().manual_seed(4))
    with torch.inference_mode():
        expected = encoder(log_mel)
        got = fast.encode(encoder, log_mel)
    assert fast.pools_over_time(encoder) == (variant != "clstm")
    assert (got - expected).abs().max() <= 1e-5 * expected.abs().max()


class PooledStandIn(Encoder):
    """An encoder type with no fast path: one conv, per-step features, mean+max over time."""

    embedding_size = 2 * 64

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)

    def time_features(self, log_mel: torch.Tensor) -> torch.Tensor:
        return flatten_channels_per_time_step(self.conv(log_mel))

    def selectable_layers(self) -> tuple[Layer, ...]:
        return (Layer("conv", self.embedding_size, MEAN_MAX),)


class LastStepStandIn(PooledStandIn):
    """An encoder type whose embedding does not pool time steps: it overrides ``forward``."""

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.conv(log_mel)[..., -1].flatten(1)


def test_an_encoder_type_without_a_fast_path_runs_its_reference_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new architecture needs no entry among the fast paths: its own ``time_features`` is used."""
    monkeypatch.setitem(ENCODER_TYPES, "pooled_stand_in", PooledStandIn)
    torch.manual_seed(5)
    encoder = build_encoder("pooled_stand_in", {})
    log_mel = torch.randn(2, 1, 64, 40)
    with torch.inference_mode():
        assert torch.equal(fast.time_features(encoder, log_mel), encoder.time_features(log_mel))
        assert fast.pools_over_time(encoder)
        assert torch.equal(fast.encode(encoder, log_mel), encoder(log_mel))
        last_step = LastStepStandIn().eval()
        assert not fast.pools_over_time(last_step)
        assert torch.equal(fast.encode(last_step, log_mel), last_step(log_mel))
