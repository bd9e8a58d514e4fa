"""Batch independence of the non-reference normalisations, input forms, shapes and dtypes."""
from __future__ import annotations

import pytest
import torch

from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.inference.scene import scene_embeddings
from hear_byols.timestamps.exact import timestamp_embeddings

BATCH_FREE = ["per_clip", [-4.0, 5.0]]
ATOL = 1e-5


def _rel_close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(((a - b).abs().max() / b.abs().max()) <= ATOL)


@pytest.fixture(scope="module")
def cvt_model(checkpoint_path):
    return model_from_checkpoint("cvt", checkpoint_path("cvt"))


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    generator = torch.Generator().manual_seed(7)
    return torch.randn(3, 24_000, generator=generator) * torch.tensor([[0.02], [0.3], [0.8]])


@pytest.mark.parametrize("normalization", BATCH_FREE, ids=str)
def test_scene_embedding_of_a_clip_is_the_same_alone_and_in_any_batch(checkpoint_path, clips, normalization):
    cvt_model = model_from_checkpoint("cvt", checkpoint_path("cvt"), normalization)
    batch = scene_embeddings(cvt_model, clips)
    reordered = scene_embeddings(cvt_model, clips[[2, 0, 1]])
    for i in range(3):
        alone = scene_embeddings(cvt_model, clips[i : i + 1])[0]
        assert _rel_close(batch[i], alone)
    assert _rel_close(reordered[0], batch[2])


@pytest.mark.parametrize("normalization", BATCH_FREE, ids=str)
def test_timestamp_embedding_of_a_clip_is_the_same_alone_and_in_any_batch(checkpoint_path, clips, normalization):
    cvt_model = model_from_checkpoint("cvt", checkpoint_path("cvt"), normalization)
    batch, _ = timestamp_embeddings(cvt_model, clips)
    for i in range(3):
        alone, _ = timestamp_embeddings(cvt_model, clips[i : i + 1])
        assert _rel_close(batch[i], alone[0])


def test_fixed_stats_timestamp_embeddings_do_not_depend_on_clip_length(checkpoint_path, clips):
    """With fixed stats a frame's embedding depends only on the samples under it."""
    cvt_model = model_from_checkpoint("cvt", checkpoint_path("cvt"), [-4.0, 5.0])
    full, stamps = timestamp_embeddings(cvt_model, clips[:1])
    prefix, prefix_stamps = timestamp_embeddings(cvt_model, clips[:1, :16_000])
    # frames centred up to 500 ms lie entirely inside the first 16000 samples' padded signal
    inside = int((prefix_stamps[0] <= 500).sum())
    assert _rel_close(prefix[0, :inside], full[0, :inside])
    assert torch.equal(stamps[0, : prefix.shape[1]], prefix_stamps[0])


def test_reference_normalisation_is_batch_dependent(checkpoint_path, clips):
    """The documented quirk: the default reproduces the original's batch dependence."""
    model = model_from_checkpoint("cvt", checkpoint_path("cvt"))
    batch = scene_embeddings(model, clips)
    alone = scene_embeddings(model, clips[:1])
    assert not _rel_close(batch[0], alone[0])


def test_list_input_equals_tensor_input(cvt_model, clips):
    as_list = [clip for clip in clips]
    assert torch.equal(scene_embeddings(cvt_model, as_list), scene_embeddings(cvt_model, clips))
    list_ts, list_stamps = timestamp_embeddings(cvt_model, as_list)
    tensor_ts, tensor_stamps = timestamp_embeddings(cvt_model, clips)
    assert torch.equal(list_ts, tensor_ts) and torch.equal(list_stamps, tensor_stamps)


def test_numpy_input_equals_tensor_input(cvt_model, clips):
    assert torch.equal(scene_embeddings(cvt_model, clips.numpy()), scene_embeddings(cvt_model, clips))


def test_list_of_mixed_lengths_scene_keeps_input_order(checkpoint_path, clips):
    model = model_from_checkpoint("cvt", checkpoint_path("cvt"), normalization="per_clip")
    mixed = [clips[0], clips[1, :20_000], clips[2]]
    out = scene_embeddings(model, mixed)
    assert out.shape == (3, 2048)
    assert _rel_close(out[1], scene_embeddings(model, clips[1:2, :20_000])[0])
    assert _rel_close(out[2], scene_embeddings(model, clips[2:3])[0])


@pytest.mark.parametrize("hop_size", [50.0, 25.0, 10.0])
def test_timestamps_are_k_times_hop(cvt_model, clips, hop_size):
    embeddings, timestamps = timestamp_embeddings(cvt_model, clips[:, :8000], hop_size=hop_size)
    n_frames = 1 + int(8000 // (hop_size * 16))
    assert embeddings.shape == (3, n_frames, 2048) and embeddings.dtype == torch.float32
    assert timestamps.shape == (3, n_frames) and timestamps.dtype == torch.float32
    assert torch.equal(timestamps[1], torch.arange(n_frames, dtype=torch.float32) * hop_size)


def test_non_aligned_hop_uses_materialized_frames_with_same_numbers(cvt_model, clips):
    """25 ms = 400 samples is not a multiple of the 160-sample STFT hop."""
    auto, _ = timestamp_embeddings(cvt_model, clips[:, :8000], hop_size=25.0)
    forced, _ = timestamp_embeddings(cvt_model, clips[:, :8000], hop_size=25.0, frame_method="materialized")
    assert torch.equal(auto, forced)


def test_scene_output_is_float32_with_embedding_size(cvt_model, clips):
    out = scene_embeddings(cvt_model, clips)
    assert out.shape == (3, cvt_model.scene_embedding_size) and out.dtype == torch.float32
