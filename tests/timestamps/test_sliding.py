"""The approximate sliding timestamp mode: same shapes and timestamps, close to exact."""
from __future__ import annotations

import pytest
import torch

import hear_byols.api as api
from hear_byols.errors import InvalidOptionError


@pytest.fixture(scope="module")
def speechy() -> torch.Tensor:
    t = torch.arange(48_000) / 16_000
    envelope = 0.5 * (1 - torch.cos(2 * torch.pi * 3 * t))
    tone = sum(torch.sin(2 * torch.pi * 140 * k * t) / k for k in range(1, 8))
    return (0.3 * envelope * tone).float()[None].repeat(2, 1)


@pytest.mark.parametrize("variant", ["default", "cvt", "resnetish34"])
def test_sliding_matches_exact_shapes_and_is_close(variant, checkpoint_path, speechy):
    path = str(checkpoint_path(variant))
    exact, exact_stamps = api.get_timestamp_embeddings(speechy, api.load_model(path, variant=variant))
    model = api.load_model(path, variant=variant, timestamp_mode="sliding")
    sliding, stamps = api.get_timestamp_embeddings(speechy, model)
    assert sliding.shape == exact.shape and sliding.dtype == torch.float32
    assert torch.equal(stamps, exact_stamps)
    cosine = torch.nn.functional.cosine_similarity(sliding, exact, dim=-1)
    assert cosine.mean() > 0.8, f"mean cosine {cosine.mean():.3f}"


def test_sliding_is_refused_for_the_recurrent_encoder(checkpoint_path):
    with pytest.raises(InvalidOptionError, match="last recurrent state"):
        api.load_model(str(checkpoint_path("clstm")), variant="clstm", timestamp_mode="sliding")


def test_unknown_timestamp_mode(checkpoint_path):
    with pytest.raises(InvalidOptionError, match="timestamp_mode='fast'"):
        api.load_model(str(checkpoint_path("cvt")), variant="cvt", timestamp_mode="fast")
