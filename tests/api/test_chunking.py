"""Chunks sized per device, bounded per batch, and accumulated without host syncs."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import hear_byols.timestamps.exact as exact
from hear_byols.inference.chunking import items_per_forward
from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.logmel.normalization import Moments
from hear_byols.timestamps.frame_log_mels import frame_log_mels
from hear_byols.timestamps.framing import frame_grid, frames_view, pad_for_frames
from hear_byols.timestamps import sliding
from hear_byols.encoders.base import MEAN, MEAN_MAX
from hear_byols.timestamps.sliding import pool_windows, window_steps

GIB = 1 << 30


def test_cpu_keeps_its_cache_sized_chunks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: pytest.fail("asked CUDA on CPU"))
    assert items_per_forward(torch.device("cpu"), 16, 101, 8192) == 16


def test_cuda_chunks_grow_with_free_memory_within_bounds(monkeypatch):
    cuda = torch.device("cuda", 0)
    sizes = []
    for free in (0, 1 * GIB, 8 * GIB, 70 * GIB, 10_000 * GIB):
        monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None, free=free: (free, 80 * GIB))
        sizes.append(items_per_forward(cuda, 16, 101, 8192))
    assert sizes[0] == 16 and sizes[-1] == 8192
    assert sizes == sorted(sizes) and 16 < sizes[2] < 8192


@pytest.mark.parametrize(("n_clips", "n_frames", "per_forward"), [(256, 11, 256), (8, 201, 256), (3, 41, 16), (5, 11, 40), (2, 7, 1)])
def test_frame_chunks_cover_every_frame_once_within_the_bound(n_clips, n_frames, per_forward):
    seen = np.zeros((n_clips, n_frames), dtype=int)
    chunks = exact.frame_chunks(n_clips, n_frames, per_forward)
    for clips, first, count in chunks:
        seen[clips, first : first + count] += 1
        assert len(range(n_clips)[clips]) * count <= max(per_forward, 1)
    assert (seen == 1).all()
    # runs as long as the bound allows: a short clip's frames stay together
    assert all(count == min(n_frames, per_forward) for _, first, count in chunks if first + count < n_frames)


@pytest.mark.parametrize("variant", ["default", "cvt"])
def test_chunk_layout_does_not_change_the_numbers(variant, checkpoint_path, monkeypatch):
    """Clip groups and short runs (shared-work AudioNTT path and plain path) = one big chunk."""
    model = model_from_checkpoint(variant, checkpoint_path(variant))
    audio = torch.randn(5, 8000, generator=torch.Generator().manual_seed(2)) * 0.2  # 11 frames per clip
    whole, _ = exact.timestamp_embeddings(model, audio, frames_per_forward=1000)
    monkeypatch.setattr(exact, "SHARED_FRAMES_PER_FORWARD", 1000)
    whole_shared, _ = exact.timestamp_embeddings(model, audio)
    for per_forward in (3, 24):
        monkeypatch.setattr(exact, "SHARED_FRAMES_PER_FORWARD", per_forward)
        for reference, got in ((whole, exact.timestamp_embeddings(model, audio, frames_per_forward=per_forward)[0]),
                               (whole_shared, exact.timestamp_embeddings(model, audio)[0])):
            assert float((got - reference).abs().max() / reference.abs().max()) <= 1e-6


@pytest.fixture
def no_host_sync(monkeypatch):
    """Inside the ``with``: reading a tensor's value on the host fails (on a GPU that is a sync)."""

    class Guard:
        def __enter__(self):
            for name in ("item", "tolist", "__float__", "__int__", "__bool__"):
                monkeypatch.setattr(torch.Tensor, name, lambda *a, name=name: pytest.fail(f"host read: Tensor.{name}"))

        def __exit__(self, *exc):
            monkeypatch.undo()

    return Guard()


def test_moments_accumulate_without_host_reads_and_match_float64(no_host_sync):
    chunks = [torch.randn(3, n, 64, 7, generator=torch.Generator().manual_seed(n)) * n for n in (4, 1, 9)]
    with no_host_sync:
        per_clip = Moments()
        for chunk in chunks:
            per_clip.add(chunk, rows=True)
        joined = Moments.concat([per_clip])
        pooled = joined.pooled()
        mean, std, pooled_mean, pooled_std = joined.mean, joined.std(), pooled.mean, pooled.std()
    data = np.concatenate([c.double().numpy().reshape(3, -1) for c in chunks], axis=1)
    np.testing.assert_allclose(mean.numpy(), data.mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(std.numpy(), data.std(axis=1, ddof=1), rtol=1e-12)
    np.testing.assert_allclose([float(pooled_mean), float(pooled_std)], [data.mean(), data.std(ddof=1)], rtol=1e-12)


def test_frame_chunks_are_read_without_host_reads(frontend, no_host_sync):
    """Per-chunk index maps: built once per call (shared STFT) or on the device (fractional hops)."""
    audio = torch.randn(2, 20_000, generator=torch.Generator().manual_seed(4)) * 0.1
    grid = frame_grid(audio.shape[1], 16000, 1000.0, 50.0)
    frames = frame_log_mels(frontend, pad_for_frames(audio, grid), grid, "shared_stft")
    fractional = frame_grid(audio.shape[1], 16000, 100.0, 12.53)
    with no_host_sync:
        frames.chunk(3, 5, slice(1, 2))
        frames_view(pad_for_frames(audio, fractional), fractional, 2, 9)


#: a window's pooling written plainly, per pooling a layer can have
_WINDOW_REFERENCE = {
    MEAN_MAX: lambda window: window.mean(dim=1) + window.amax(dim=1),
    MEAN: lambda window: window.mean(dim=1),  # SERAB's mean-pooled CvT
}


@pytest.mark.parametrize("pooling", _WINDOW_REFERENCE)
@pytest.mark.parametrize("steps_per_pass", [sliding.POOLED_STEPS_PER_PASS, 30])
def test_pooled_windows_equal_a_loop_over_windows(steps_per_pass, pooling, monkeypatch):
    monkeypatch.setattr(sliding, "POOLED_STEPS_PER_PASS", steps_per_pass)
    features = torch.randn(2, 40, 8, generator=torch.Generator().manual_seed(6))
    centres = torch.arange(0, 3300, 50, dtype=torch.float32)  # windows clamped at both ends
    firsts, lasts = window_steps(centres, 500.0, 80.0, features.shape[1])
    expected = torch.stack(
        [_WINDOW_REFERENCE[pooling](features[:, f:l]) for f, l in zip(firsts.tolist(), lasts.tolist())], dim=1
    )
    assert (lasts - firsts).min() >= 1 and int(lasts.max()) == 40 and int(firsts.min()) == 0
    for pool in (pool_windows, sliding.pool_windows_by_gathers, sliding.pool_windows_by_slices):
        torch.testing.assert_close(pool(features, firsts, lasts, pooling), expected, rtol=1e-6, atol=1e-6)
