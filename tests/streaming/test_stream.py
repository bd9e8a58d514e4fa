"""``Stream``: for any chunking, the offline exact timestamp embeddings with the same fixed
statistics, each frame as soon as its samples exist; bounded buffer; bad chunks refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hear_byols.api import get_timestamp_embeddings, load_model
from hear_byols.errors import AudioTypeError, InvalidAudioError, InvalidOptionError
from hear_byols.streaming import Stream
from helpers.variants import encoder_type, one_variant_per

RTOL = 1e-5


def clip(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise plus a tone, float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    n = round(seconds * 16000)
    t = np.arange(n) / 16000
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(n)).clip(-1, 1).astype(np.float32)


def streamed(stream: Stream, audio: np.ndarray, sizes) -> tuple[torch.Tensor, torch.Tensor]:
    """Push ``audio`` in chunks of ``sizes`` (cycled), then flush; all emitted frames in order."""
    outputs, position, k = [], 0, 0
    while position < audio.size:
        size = sizes[k % len(sizes)]
        outputs.append(stream.push(audio[position : position + size]))
        assert stream.frames.retained <= 16000 + size  # one frame plus the chunk, at most
        position, k = position + size, k + 1
    outputs.append(stream.flush())
    return torch.cat([e for e, _ in outputs]), torch.cat([t for _, t in outputs])


def assert_offline(model, audio: np.ndarray, embeddings: torch.Tensor, timestamps: torch.Tensor, hop: float = 50.0) -> float:
    expected, expected_ts = get_timestamp_embeddings(torch.from_numpy(audio)[None], model, hop_size=hop)
    assert embeddings.shape == expected[0].shape
    assert torch.equal(timestamps, expected_ts[0])
    error = float((embeddings - expected[0]).abs().max() / expected.abs().max())
    assert error <= RTOL, error
    return error


def random_sizes(seed: int, high: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(seed).integers(0, high, size=64)]


@pytest.mark.parametrize("variant", ["default", "cvt"])
@pytest.mark.parametrize("sizes", [pytest.param(None, id="random"), pytest.param([20000, 0, 37], id="bigger-than-frame+empty")])
def test_any_chunking_equals_offline(fixed_model, variant: str, sizes) -> None:
    model, audio = fixed_model(variant), clip(2.05)
    embeddings, timestamps = streamed(Stream(model), audio, sizes or random_sizes(1, 6000))
    assert_offline(model, audio, embeddings, timestamps)


def test_one_sample_chunks(fixed_model) -> None:
    model, audio = fixed_model("default"), clip(0.2, seed=3)
    embeddings, timestamps = streamed(Stream(model, batch=2), audio, [1])
    assert_offline(model, audio, embeddings, timestamps)


@pytest.mark.parametrize("hop", [33.3, 120.0])
def test_other_hops(fixed_model, hop: float) -> None:
    """A hop that is no whole number of samples (33.3 ms: 532.8) frames as the offline grid does."""
    model, audio = fixed_model("default"), clip(1.3, seed=4)
    embeddings, timestamps = streamed(Stream(model, hop_ms=hop), audio, random_sizes(2, 3000))
    assert_offline(model, audio, embeddings, timestamps, hop)


def test_intermediate_layer(checkpoint_path) -> None:
    model = load_model(str(checkpoint_path("cvt")), variant="cvt", normalization=[-6.0, 3.5], layer="stage2")
    audio = clip(1.1, seed=5)
    embeddings, timestamps = streamed(Stream(model), audio, [4000])
    assert embeddings.shape[1] == model.timestamp_embedding_size
    assert_offline(model, audio, embeddings, timestamps)


@pytest.mark.slow
@pytest.mark.parametrize("variant", one_variant_per(encoder_type))
def test_every_family_equals_offline(fixed_model, variant: str) -> None:
    model, audio = fixed_model(variant), clip(1.1, seed=6)
    embeddings, timestamps = streamed(Stream(model, batch=3), audio, random_sizes(7, 9000))
    assert_offline(model, audio, embeddings, timestamps)


def test_frame_emitted_as_soon_as_its_samples_exist(fixed_model) -> None:
    """Frame k (hop 50 ms) needs real samples up to 800 k + 7999: not one sample more."""
    stream, audio = Stream(fixed_model("default")), clip(1.0)
    assert stream.push(audio[:7999])[0].shape[0] == 0
    assert stream.push(audio[7999:8000])[1].tolist() == [0.0]
    assert stream.push(audio[8000:8799])[0].shape[0] == 0
    assert stream.push(audio[8799:8800])[1].tolist() == [50.0]
    assert stream.push(audio[8800:10400])[1].tolist() == [100.0, 150.0]


def test_tensor_chunks_come_back_as_tensors(fixed_model) -> None:
    stream = Stream(fixed_model("default"))
    embeddings, timestamps = stream.push(torch.from_numpy(clip(0.6)))
    assert isinstance(embeddings, torch.Tensor) and embeddings.dtype == torch.float32 and embeddings.shape[0] == 3
    with pytest.raises(AudioTypeError, match="float64"):
        stream.push(torch.zeros(10, dtype=torch.float64))


@pytest.mark.parametrize("normalization", ["reference", "per_clip"])
def test_batch_statistics_refused(checkpoint_path, normalization: str) -> None:
    model = load_model(str(checkpoint_path("default")), variant="default", normalization=normalization)
    with pytest.raises(InvalidOptionError, match="hear-byols stats"):
        Stream(model)


@pytest.mark.parametrize("chunk, error, words", [
    (np.zeros(10, np.float64), AudioTypeError, "float64"),
    (np.zeros(10, np.int16), AudioTypeError, "32768"),
    (np.zeros((2, 10), np.float32), InvalidAudioError, "1-D mono"),
    (np.array([0.0, np.nan], np.float32), InvalidAudioError, "NaN"),
    (np.array([0.0, np.inf], np.float32), InvalidAudioError, "NaN or Inf"),
    (np.array([0.5, -1.5], np.float32), InvalidAudioError, r"outside \[-1, 1\]"),
    ([0.0, 0.1], AudioTypeError, "numpy.ndarray"),
])
def test_bad_chunks_refused(fixed_model, chunk, error, words) -> None:
    stream = Stream(fixed_model("default"))
    with pytest.raises(error, match=words):
        stream.push(chunk)
    assert stream.push(clip(0.6))[0].shape[0] == 3  # the stream is still usable and lost nothing


def test_declared_rate_and_finished_stream(fixed_model) -> None:
    stream = Stream(fixed_model("default"))
    stream.push(clip(0.1), sample_rate=16000)
    with pytest.raises(InvalidAudioError, match="44100"):
        stream.push(clip(0.1), sample_rate=44100)
    stream.flush()
    with pytest.raises(InvalidOptionError, match="after flush"):
        stream.push(clip(0.1))
    with pytest.raises(InvalidOptionError, match="twice"):
        stream.flush()


@pytest.mark.parametrize("options, word", [({"hop_ms": 0.0}, "hop_ms"), ({"hop_ms": float("nan")}, "hop_ms"),
                                           ({"hop_ms": "50"}, "hop_ms"), ({"batch": 0}, "batch"), ({"batch": 2.5}, "batch")])
def test_bad_options_refused(fixed_model, options, word) -> None:
    with pytest.raises(InvalidOptionError, match=word):
        Stream(fixed_model("default"), **options)


def test_empty_stream_has_no_frames(fixed_model) -> None:
    stream = Stream(fixed_model("default"))
    assert stream.push(np.zeros(0, np.float32))[0].shape == (0, 2048)
    embeddings, timestamps = stream.flush()
    assert embeddings.shape == (0, 2048) and timestamps.shape == (0,)
