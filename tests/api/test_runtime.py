"""Entry points compute on the model's device without moving it, return ordinary tensors on
the input's device, and refuse a model cast away from float32."""
from __future__ import annotations

import pytest
import torch

import hear_byols.api as api
from helpers.devices import on_device
from hear_byols.errors import InvalidModelError


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    return torch.randn(2, 20_000, generator=torch.Generator().manual_seed(11)) * 0.2


@pytest.fixture(scope="module")
def models(checkpoint_path) -> dict[str, torch.nn.Module]:
    path = str(checkpoint_path("default"))
    return {mode: api.load_model(path, variant="default", timestamp_mode=mode) for mode in ("exact", "sliding")}


def _calls(models, audio):
    return {
        "scene": lambda: api.get_scene_embeddings(audio, models["exact"]),
        "exact": lambda: api.get_timestamp_embeddings(audio, models["exact"]),
        "sliding": lambda: api.get_timestamp_embeddings(audio, models["sliding"]),
    }


def test_a_call_never_moves_the_model(models, clips, monkeypatch):
    """Moving (``.to``, ``.cuda``, ``.float``...) goes through ``Module._apply``: forbid it."""

    def refuse(*args, **kwargs):
        raise AssertionError("an entry point moved or cast the model")

    monkeypatch.setattr(torch.nn.Module, "_apply", refuse)
    for call in _calls(models, clips.numpy()).values():
        call()


def test_results_come_back_on_the_inputs_device_and_the_model_stays(models, clips, device):
    """Model on ``device``; NumPy / CPU input -> CPU results, input on ``device`` -> results there."""
    on = {mode: on_device(model, device) for mode, model in models.items()}
    for audio, where in ((clips.numpy(), "cpu"), (clips, "cpu"), (clips.to(device), device.type)):
        for name, call in _calls(on, audio).items():
            result = call()
            for tensor in result if isinstance(result, tuple) else (result,):
                assert tensor.device.type == where, name
    for model in on.values():
        assert {p.device.type for p in model.parameters()} == {device.type}


def test_results_are_ordinary_tensors(models, clips, device):
    """Not inference tensors and not views: editable in place, and a probe trains on them."""
    on = {mode: on_device(model, device) for mode, model in models.items()}
    for name, call in _calls(on, clips.to(device)).items():
        result = call()
        for tensor in result if isinstance(result, tuple) else (result,):
            assert not tensor.is_inference() and not tensor.requires_grad and tensor._base is None, name
            tensor.add_(1.0)
        embeddings = result[0] if isinstance(result, tuple) else result
        probe = torch.nn.Linear(embeddings.shape[-1], 2, device=device)
        probe(embeddings).square().mean().backward()
        assert probe.weight.grad is not None


@pytest.mark.parametrize("cast", ["half", "double", "bfloat16"])
def test_a_model_cast_away_from_float32_is_refused_with_the_fix(checkpoint_path, clips, cast):
    model = getattr(api.load_model(str(checkpoint_path("default")), variant="default"), cast)()
    for call in (lambda: api.get_scene_embeddings(clips, model), lambda: api.get_timestamp_embeddings(clips, model)):
        with pytest.raises(InvalidModelError, match=r"model\.float\(\).*precision="):
            call()
