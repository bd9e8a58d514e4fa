"""``OnnxEncoder``: scene and timestamps equal the torch HEAR functions with the same statistics;
its streams equal the offline exact path for any chunking; per_clip timestamps refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings
from hear_byols.errors import AudioTypeError, InvalidAudioError, InvalidOptionError
from hear_byols.onnx_runtime import OnnxEncoder
from helpers.variants import encoder_type, one_variant_per

RTOL = 1e-5
#: A CvT export takes ~30 s of CPU: its cases run with the slow tests (the torch streams test
#: cvt in the default run, tests/streaming).
SLOW_EXPORT = pytest.mark.slow


def clips(n: int, seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    length = round(seconds * 16000)
    t = np.arange(length) / 16000
    tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 900, (n, 1)) * t)
    return (tone + 0.05 * rng.standard_normal((n, length))).clip(-1, 1).astype(np.float32)


def relative(got: np.ndarray, expected: torch.Tensor) -> float:
    expected = expected.numpy()
    assert got.shape == expected.shape and got.dtype == np.float32
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("variant, normalization", [("default", None), pytest.param("cvt", None, marks=SLOW_EXPORT),
                                                     ("default", "per_clip"),
                                                     pytest.param("cvt", "per_clip", marks=pytest.mark.slow)],
                         ids=["default-fixed", "cvt-fixed", "default-per_clip", "cvt-per_clip"])
def test_scene_equals_torch(graph, torch_model, variant: str, normalization) -> None:
    audio = clips(3, 1.3)
    encoder, model = OnnxEncoder(graph(variant, normalization), variant=variant), torch_model(variant, normalization)
    assert relative(encoder.scene(audio), get_scene_embeddings(torch.from_numpy(audio), model)) <= RTOL
    mixed = [audio[0], audio[1, :9000], audio[2, :20000]]
    assert relative(encoder.scene(mixed), get_scene_embeddings([torch.from_numpy(c) for c in mixed], model)) <= RTOL


@pytest.mark.parametrize("variant", ["default", pytest.param("cvt", marks=SLOW_EXPORT)])
@pytest.mark.parametrize("hop", [50.0, 33.3])
def test_timestamps_equal_torch_exact(graph, torch_model, variant: str, hop: float) -> None:
    audio = clips(2, 1.2, seed=1)
    embeddings, timestamps = OnnxEncoder(graph(variant)).timestamps(audio, hop_ms=hop)
    expected, expected_ts = get_timestamp_embeddings(torch.from_numpy(audio), torch_model(variant), hop_size=hop)
    assert relative(embeddings, expected) <= RTOL
    assert np.array_equal(timestamps, expected_ts.numpy())


@pytest.mark.parametrize("variant", ["default", pytest.param("cvt", marks=SLOW_EXPORT)])
def test_stream_equals_offline_for_any_chunking(graph, torch_model, variant: str) -> None:
    audio = clips(1, 1.7, seed=2)[0]
    stream = OnnxEncoder(graph(variant)).stream(batch=4)
    sizes = [int(s) for s in np.random.default_rng(3).integers(0, 7000, 40)] + [0, 20000]
    outputs, position = [], 0
    for size in sizes:
        outputs.append(stream.push(audio[position : position + size]))
        position += size
    outputs.append(stream.flush())
    expected, expected_ts = get_timestamp_embeddings(torch.from_numpy(audio)[None], torch_model(variant))
    assert relative(np.concatenate([e for e, _ in outputs]), expected[0]) <= RTOL
    assert np.array_equal(np.concatenate([t for _, t in outputs]), expected_ts[0].numpy())


@pytest.mark.slow
@pytest.mark.parametrize("variant", one_variant_per(encoder_type))
def test_every_family(graph, torch_model, variant: str) -> None:
    audio = clips(2, 1.1, seed=4)
    encoder, model = OnnxEncoder(graph(variant)), torch_model(variant)
    assert relative(encoder.scene(audio), get_scene_embeddings(torch.from_numpy(audio), model)) <= RTOL
    expected, _ = get_timestamp_embeddings(torch.from_numpy(audio), model)
    assert relative(encoder.timestamps(audio)[0], expected) <= RTOL


def test_per_clip_graph_refuses_timestamps_and_streams(graph) -> None:
    encoder = OnnxEncoder(graph("default", "per_clip"))
    with pytest.raises(InvalidOptionError, match="hear-byols stats"):
        encoder.timestamps(clips(1, 1.0))
    with pytest.raises(InvalidOptionError, match="hear-byols stats"):
        encoder.stream()


@pytest.mark.parametrize("audio, error, words", [
    (np.zeros((1, 16000), np.float64), AudioTypeError, "float64"),
    (np.zeros(16000, np.float32), InvalidAudioError, r"\(n_sounds, n_samples\)"),
    (np.full((1, 16000), np.nan, np.float32), InvalidAudioError, "NaN"),
    (np.full((1, 16000), 2.0, np.float32), InvalidAudioError, r"\[-1, 1\]"),
    (np.zeros((0, 16000), np.float32), InvalidAudioError, "0 clips"),
    ([], InvalidAudioError, "empty"),
    (np.zeros((1, 40), np.float32), InvalidAudioError, "too short"),
])
def test_bad_audio_refused(graph, audio, error, words) -> None:
    with pytest.raises(error, match=words):
        OnnxEncoder(graph("default")).scene(audio)


def test_unequal_lengths_refused_for_timestamps(graph) -> None:
    with pytest.raises(InvalidAudioError, match="equal length"):
        OnnxEncoder(graph("default")).timestamps([np.zeros(16000, np.float32), np.zeros(9000, np.float32)])
