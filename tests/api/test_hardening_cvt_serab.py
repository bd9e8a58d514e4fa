"""SERAB's mean-pooled CvT files are served the way SERAB served them (issue 17).

SERAB's ``load_model`` builds its CvT with ``pool=cfg.cvt_pool``; the batch-512 64/256/512 file
is the ``pool != 'mean+max'`` branch, and the 64/128/256 file predates the mean+max runs. With
``pool='mean'`` SERAB appends ``AdaptiveAvgPool2d(1)`` and ``Flatten`` after the third stage's
transformer: the embedding is the final map's mean over mel bins and time, one value per channel.

The reference below is that computation written plainly (torch's adaptive average pool of the
stage modules' output), independent of the encoder's own pooling code.
"""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn import functional as F

import hear_byols.inference.checkpoint
from hear_byols import api
from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.encoders.base import MEAN, MEAN_MAX
from hear_byols.encoders.cvt import CvT
from hear_byols.encoders.fast import encode
from hear_byols.errors import InvalidOptionError, WrongVariantError
from hear_byols.timestamps.frame_log_mels import frame_log_mels
from hear_byols.timestamps.framing import frame_grid, pad_for_frames
from hear_byols.timestamps.sliding import window_steps
from hear_byols.variants import variant_spec
from hear_byols.weights import git_blob_sha1_of, registry_entries

#: The mean-pooled SERAB variants and their embedding size: the last stage's width.
MEAN_POOLED = {"cvt_byols_bs512": 512, "cvt_byols_small": 256}
#: max|ours - reference| / max|reference|: the same modules, only the summation order differs.
POOLING_RTOL = 1e-6
HOP_MS = 500.0


def serab_mean_pool(encoder: CvT, log_mel: torch.Tensor) -> torch.Tensor:
    """SERAB's ``pool='mean'``: the stages, then ``AdaptiveAvgPool2d(1)`` and ``Flatten``."""
    stage_map = encoder.layers[:3](log_mel)
    return F.adaptive_avg_pool2d(stage_map, 1).flatten(1)


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    assert got.shape == expected.shape
    return float((got - expected).abs().max() / expected.abs().max())


@pytest.fixture(scope="module")
def fixed_norm_models(checkpoint_path):
    """``models(variant)``: deterministic weights, fixed stats [0, 1] (the log-mel is the frontend's)."""
    cache = {}

    def get(variant: str):
        if variant not in cache:
            cache[variant] = model_from_checkpoint(variant, checkpoint_path(variant), normalization=[0.0, 1.0])
        return cache[variant]

    return get


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    generator = torch.Generator().manual_seed(5)
    return (torch.rand(2, 32000, generator=generator) * 2 - 1) * 0.5


def test_the_batch512_file_is_no_longer_an_alternative_of_the_mean_max_variant():
    spec = variant_spec("cvt_byols")
    assert [wf.filename for wf in spec.weight_files] == [
        "cvt_s1-d1-e64_s2-d1-e256_s3-d1-e512_BYOLAs64x96-2107301623-e100-bs256-lr0003-rs42.pth"
    ]
    assert spec.embedding_size == 2048 and spec.layers()[-1].pooling == MEAN_MAX


def test_the_official_batch512_file_is_refused_by_the_mean_max_module(checkpoint_path, monkeypatch):
    """Its weights fit every CvT 64/256/512 variant; its hash says it is SERAB's mean-pooled one.
    (The real file is not reachable here: a test file stands in for it, under its registry entry.)"""
    path = checkpoint_path("cvt_byols_bs512")
    official = dataclasses.replace(registry_entries("cvt_byols_bs512")[0], git_blob_sha1=git_blob_sha1_of(path))
    entries = hear_byols.inference.checkpoint.registry_entries
    monkeypatch.setattr(
        hear_byols.inference.checkpoint, "registry_entries", lambda name: [official] if name == official.variant else entries(name)
    )
    with pytest.raises(WrongVariantError, match=r"use hear_byols\.cvt_byols_bs512: hear_byols\.cvt_byols_bs512\.load_model"):
        api.load_model(str(path), variant="cvt_byols")
    assert api.load_model(str(path), variant="cvt_byols_bs512").scene_embedding_size == 512


@pytest.mark.parametrize("variant, size", MEAN_POOLED.items())
def test_mean_pooled_variants_have_the_last_stage_width(variant, size):
    spec = variant_spec(variant)
    layers = spec.layers()
    assert spec.embedding_size == size == layers[-1].size
    assert [layer.size for layer in layers] == list(spec.encoder_params["emb_dims"])
    assert {layer.pooling for layer in layers} == {MEAN}


@pytest.mark.parametrize("variant", MEAN_POOLED)
def test_mean_pooling_is_serabs_average_over_mel_and_time(variant, fixed_norm_models):
    encoder = fixed_norm_models(variant).encoder
    log_mel = torch.randn(2, 1, 64, 101, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = serab_mean_pool(encoder, log_mel)
        assert expected.shape == (2, MEAN_POOLED[variant])
        assert relative_error(encoder(log_mel), expected) <= POOLING_RTOL  # the reference forward
        assert relative_error(encode(encoder, log_mel), expected) <= POOLING_RTOL  # the eval fast path
        for layer in encoder.selectable_layers():
            tapped = F.adaptive_avg_pool2d(encoder.layers[: encoder.layer_position(layer.name)](log_mel), 1).flatten(1)
            assert relative_error(encoder.layer_embedding(log_mel, layer.name), tapped) <= POOLING_RTOL, layer.name


@pytest.mark.parametrize("variant", MEAN_POOLED)
def test_scene_and_exact_timestamp_embeddings_pool_each_clip_and_frame_like_serab(variant, fixed_norm_models, clips):
    model = fixed_norm_models(variant)
    with torch.no_grad():
        scene = api.get_scene_embeddings(clips, model)
        assert relative_error(scene, serab_mean_pool(model.encoder, model.frontend(clips).unsqueeze(1))) <= POOLING_RTOL
        embeddings, _ = api.get_timestamp_embeddings(clips, model, hop_size=HOP_MS)
        grid = frame_grid(clips.shape[1], model.sample_rate, 1000.0, HOP_MS)
        frames = frame_log_mels(model.frontend, pad_for_frames(clips, grid), grid, "materialized")
        per_frame = frames.chunk(0, grid.n_frames)  # (clips, frames, n_mels, T): each 1 s frame on its own
        expected = serab_mean_pool(model.encoder, per_frame.flatten(0, 1).unsqueeze(1)).unflatten(0, (2, grid.n_frames))
    assert embeddings.shape == (2, grid.n_frames, MEAN_POOLED[variant])
    assert relative_error(embeddings, expected) <= POOLING_RTOL


def test_sliding_timestamps_average_the_map_inside_each_window(fixed_norm_models, clips):
    model = fixed_norm_models("cvt_byols_bs512")
    model.timestamp_mode = "sliding"
    try:
        with torch.no_grad():
            embeddings, timestamps = api.get_timestamp_embeddings(clips, model, hop_size=HOP_MS)
            log_mel = model.frontend(clips)
            stage_map = model.encoder.layers[:3](log_mel.unsqueeze(1))  # (B, C, F, T')
    finally:
        model.timestamp_mode = "exact"
    ms_per_step = 10.0 * log_mel.shape[-1] / stage_map.shape[-1]
    firsts, lasts = window_steps(timestamps[0], 500.0, ms_per_step, stage_map.shape[-1])
    expected = torch.stack([stage_map[..., f:l].mean(dim=(2, 3)) for f, l in zip(firsts.tolist(), lasts.tolist())], 1)
    assert relative_error(embeddings, expected) <= POOLING_RTOL


def test_an_unknown_pooling_in_a_config_is_refused_with_the_choices():
    params = {**variant_spec("cvt").encoder_params, "pooling": "max"}
    with pytest.raises(InvalidOptionError, match=r"pooling='max'.*'mean\+max', 'mean'"):
        CvT(**params)
