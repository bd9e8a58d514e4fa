"""``FrameBuffer``/``FrameStream`` without a model: the offline framing, bounded memory and batches."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from hear_byols.onnx_runtime import FrameBuffer, FrameStream
from hear_byols.timestamps.framing import frame_grid, frames_view, pad_for_frames


def offline_frames(audio: np.ndarray, hop_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """The timestamp path's own frames and timestamps of ``audio``."""
    grid = frame_grid(audio.size, 16000, 1000.0, hop_ms)
    frames = frames_view(pad_for_frames(torch.from_numpy(audio)[None], grid), grid, 0, grid.n_frames)[0]
    return frames.numpy(), grid.timestamps_ms().numpy()


@pytest.mark.parametrize("hop_ms", [50.0, 33.3, 10.0, 1500.0])
@pytest.mark.parametrize("n_samples", [1, 799, 800, 8000, 24321])
def test_frames_are_the_offline_frames(hop_ms: float, n_samples: int) -> None:
    audio = np.random.default_rng(n_samples).uniform(-1, 1, n_samples).astype(np.float32)
    seen = []
    stream = FrameStream(lambda frames: seen.append(frames.copy()) or frames[:, :4], 4, hop_ms, batch=5)
    sizes = np.random.default_rng(1).integers(0, 7000, size=32)
    outputs, position, k = [], 0, 0
    while position < n_samples:
        outputs.append(stream.push(audio[position : position + sizes[k % 32]]))
        position, k = position + sizes[k % 32], k + 1
    outputs.append(stream.flush())
    frames, timestamps = offline_frames(audio, hop_ms)
    assert np.array_equal(np.concatenate(seen), frames)
    assert np.array_equal(np.concatenate([t for _, t in outputs]), timestamps)
    assert all(len(batch) <= 5 for batch in seen)


def test_buffer_does_not_grow_with_the_stream() -> None:
    """60 s in 100 ms chunks: never more than one frame plus one chunk held; every frame emitted."""
    chunk, frame = 1600, 16000
    stream = FrameStream(lambda frames: frames[:, :1], 1, 50.0, batch=8)
    rng = np.random.default_rng(0)
    most = emitted = 0
    for _ in range(600):
        emitted += len(stream.push(rng.uniform(-1, 1, chunk).astype(np.float32))[0])
        most = max(most, stream.retained)
    emitted += len(stream.flush()[0])
    assert most <= frame + chunk, most
    assert emitted == 1 + 60 * 16000 // 800


def test_hop_of_less_than_one_sample_refused() -> None:
    from hear_byols.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match=">= 1"):
        FrameBuffer(16000, 0.5)
    with pytest.raises(InvalidOptionError, match="one sample"):
        FrameStream(lambda f: f, 1, 0.01)
