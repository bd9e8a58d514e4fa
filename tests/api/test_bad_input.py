"""Every bad input of DESIGN.md §8 raises a clear, actionable error of the package hierarchy."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import hear_byols.cvt
import hear_byols.default
from hear_byols.errors import (
    AudioTypeError,
    CheckpointError,
    HearByolsError,
    InvalidAudioError,
    InvalidModelError,
    InvalidOptionError,
)
from hear_byols.inference.checkpoint import model_from_checkpoint


@pytest.fixture(scope="module")
def model(checkpoint_path):
    return model_from_checkpoint("default", checkpoint_path("default"))


GOOD = torch.zeros(2, 16000)

BAD_AUDIO = [
    ("a python list of floats", [[0.0] * 100], AudioTypeError, "must be a torch.Tensor or numpy.ndarray"),
    ("a string", "clip.wav", AudioTypeError, "must be a torch.Tensor or numpy.ndarray"),
    ("1-D tensor", torch.zeros(16000), InvalidAudioError, "expected 2-D (n_sounds, n_samples)"),
    ("3-D tensor", torch.zeros(1, 2, 16000), InvalidAudioError, "downmix multichannel audio first"),
    ("float64", torch.zeros(2, 16000, dtype=torch.float64), AudioTypeError, "audio.float()"),
    ("float16", torch.zeros(2, 16000, dtype=torch.float16), AudioTypeError, "expected torch.float32"),
    ("int16 PCM", torch.zeros(2, 16000, dtype=torch.int16), AudioTypeError, "/ 32768 for int16"),
    ("numpy float64", np.zeros((2, 16000)), AudioTypeError, "float64"),
    ("NaN", torch.tensor([[0.0] * 5000 + [float("nan")] + [0.0] * 5000]), InvalidAudioError, "NaN or Inf"),
    ("Inf", torch.tensor([[0.0] * 5000 + [float("inf")] + [0.0] * 5000]), InvalidAudioError, "NaN or Inf"),
    ("empty batch", torch.zeros(0, 16000), InvalidAudioError, "0 clips"),
    ("empty list", [], InvalidAudioError, "list is empty"),
    ("zero-length clips", torch.zeros(2, 0), InvalidAudioError, "0 samples"),
    ("zero-length clip in list", [torch.zeros(16000), torch.zeros(0)], InvalidAudioError, "0 samples"),
    ("2-D item in list", [torch.zeros(1, 16000)], InvalidAudioError, "must be 1-D mono clips"),
    ("int item in list", [torch.zeros(16000, dtype=torch.int32)], AudioTypeError, "audio[0] has dtype torch.int32"),
]


@pytest.mark.parametrize("case, audio, error, message", BAD_AUDIO, ids=[c[0] for c in BAD_AUDIO])
@pytest.mark.parametrize("path", ["scene", "timestamp"])
def test_bad_audio_is_refused_with_a_clear_message(model, case, audio, error, message, path):
    call = hear_byols.default.get_scene_embeddings if path == "scene" else hear_byols.default.get_timestamp_embeddings
    with pytest.raises(error, match=re.escape(message)) as info:
        call(audio, model)
    assert isinstance(info.value, HearByolsError)


@pytest.mark.parametrize("n_samples", [100, 512, 1119])
def test_scene_clip_too_short_for_the_encoder_names_the_minimum(model, n_samples):
    with pytest.raises(InvalidAudioError, match=r"needs at least 1120 samples \(70.0 ms\)"):
        hear_byols.default.get_scene_embeddings(torch.zeros(1, n_samples), model)


def test_shortest_accepted_clip_works(model):
    assert hear_byols.default.get_scene_embeddings(torch.zeros(1, 1120), model).shape == (1, 2048)


def test_short_clip_is_fine_for_timestamps_because_frames_are_padded(model):
    embeddings, timestamps = hear_byols.default.get_timestamp_embeddings(torch.full((1, 100), 0.1), model)
    assert embeddings.shape == (1, 1, 2048) and timestamps.tolist() == [[0.0]]


def test_timestamp_clips_of_different_lengths_are_refused(model):
    with pytest.raises(InvalidAudioError, match="equal length"):
        hear_byols.default.get_timestamp_embeddings([torch.zeros(16000), torch.zeros(8000)], model)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"frame_duration": 1000.03}, "whole number of samples"),
        ({"frame_duration": 0}, "positive"),
        ({"hop_size": -5}, "positive"),
        ({"hop_size": float("nan")}, "positive"),
        ({"frame_duration": 20}, "a frame of frame_duration=20 ms has 320 samples"),
        ({"hop_size": "abc"}, "hop_size='abc' \\(str\\): expected a number of milliseconds"),
        ({"hop_size": None}, "hop_size=None .*expected a number"),
        ({"hop_size": True}, "hop_size=True \\(bool\\)"),  # was silently taken as 1 ms
        ({"frame_duration": None}, "frame_duration=None .*expected a number"),
        ({"hop_size": 1e-300}, "more than 10,000,000; use hop_size >= "),  # looped forever building the grid
    ],
)
def test_bad_framing_options(model, kwargs, message):
    with pytest.raises((InvalidOptionError, InvalidAudioError), match=message):
        hear_byols.default.get_timestamp_embeddings(GOOD, model, **kwargs)


def test_a_model_from_another_package_is_refused():
    foreign = torch.nn.Linear(3, 3)
    with pytest.raises(InvalidModelError, match="not a hear_byols model.*load_model"):
        hear_byols.cvt.get_scene_embeddings(GOOD, foreign)
    with pytest.raises(InvalidModelError):
        hear_byols.cvt.get_timestamp_embeddings(GOOD, foreign)


@pytest.mark.parametrize("value", ["batch", [1.0], [0.0, 0.0], [0.0, -1.0], ["a", "b"], [float("inf"), 1.0], 3])
def test_bad_normalization_option(checkpoint_path, value):
    with pytest.raises(InvalidOptionError, match="normalization=.*is not valid"):
        hear_byols.cvt.load_model(str(checkpoint_path("cvt")), normalization=value)


def test_unknown_variant():
    from hear_byols.variants import variant_spec

    with pytest.raises(InvalidOptionError, match="unknown variant 'cvt2'.*cvt"):
        variant_spec("cvt2")


def test_missing_checkpoint_file(tmp_path):
    with pytest.raises(HearByolsError, match="not found"):
        hear_byols.cvt.load_model(str(tmp_path / "nope.pth"))


def test_unknown_option_is_a_type_error(checkpoint_path):
    with pytest.raises(TypeError):
        hear_byols.cvt.load_model(str(checkpoint_path("cvt")), colour="red")


def test_errors_derive_from_builtin_types():
    assert issubclass(InvalidAudioError, ValueError) and issubclass(AudioTypeError, TypeError)
    assert issubclass(CheckpointError, HearByolsError)


@pytest.mark.parametrize("variant", ["default", "cvt"])
def test_silence_and_constant_audio_give_finite_embeddings(checkpoint_path, variant):
    """A constant log-mel has std 0: the normalisation's floor keeps every output finite."""
    model = model_from_checkpoint(variant, checkpoint_path(variant))
    for audio in (torch.zeros(2, 16000), torch.full((2, 16000), 0.25)):
        assert torch.isfinite(hear_byols.default.get_scene_embeddings(audio, model)).all()
        assert torch.isfinite(hear_byols.default.get_timestamp_embeddings(audio, model, hop_size=250)[0]).all()
    alone, _ = hear_byols.default.get_timestamp_embeddings(torch.zeros(1, 16000), model, hop_size=250)
    assert torch.isfinite(alone).all()


def test_the_std_floor_changes_nothing_where_std_is_above_it():
    from hear_byols.logmel.normalization import STD_FLOOR, apply_stats

    x = torch.randn(2, 4, 5)
    std = torch.tensor([0.5, STD_FLOOR * 2])
    assert torch.equal(apply_stats(x, torch.zeros(2), std), (x - 0) / std.reshape(-1, 1, 1))
    assert torch.equal(apply_stats(x, 0.0, 0.0), x / STD_FLOOR)


def test_audio_too_loud_for_float32_raises_instead_of_returning_nan(model):
    loud = torch.randn(2, 16000, generator=torch.Generator().manual_seed(0)) * 1e20
    with pytest.raises(InvalidAudioError, match=r"clip\(s\) \[0, 1\] are not finite.*peak amplitude.*\[-1, 1\]"):
        hear_byols.default.get_scene_embeddings(loud, model)
    with pytest.raises(InvalidAudioError, match="not finite"):
        hear_byols.default.get_timestamp_embeddings(loud, model, hop_size=250)
