"""The precision policy: exact float32 by default whatever the caller's autocast and TF32
settings (restored afterwards), and the opt-in tf32 / bf16 / fp16 option."""
from __future__ import annotations

import json

import pytest
import torch

import hear_byols.api as api
from helpers.devices import on_device
from hear_byols.errors import InvalidOptionError
from hear_byols.inference.precision import PRECISIONS, _operators, float32_kernels

#: the golden tolerance (tests/api/test_parity.py): max|diff| <= 1e-5 * max|reference|
RTOL = 1e-5


def _relative(got: torch.Tensor, reference: torch.Tensor) -> float:
    return float((got.float() - reference).abs().max() / reference.abs().max())


@pytest.fixture(scope="module")
def loud_low() -> torch.Tensor:
    """Two 1.5 s clips: a full-scale 60 Hz tone (its mel power overflows fp16) and noise."""
    t = torch.arange(24_000) / 16_000
    noise = torch.randn(24_000, generator=torch.Generator().manual_seed(3)) * 0.3
    return torch.stack([0.99 * torch.sin(2 * torch.pi * 60 * t), noise]).float()


def _entry_points(model, audio) -> dict[str, torch.Tensor]:
    sliding = api.load_model(model.weights, variant=model.variant, timestamp_mode="sliding").to(audio.device)
    return {
        "scene": api.get_scene_embeddings(audio, model),
        "exact": api.get_timestamp_embeddings(audio, model)[0],
        "sliding": api.get_timestamp_embeddings(audio, sliding)[0],
    }


@pytest.mark.parametrize("variant", ["default", "cvt"])
def test_callers_autocast_does_not_change_the_numbers(variant, checkpoint_path, loud_low, device):
    """Under the caller's autocast (bf16 on CPU, fp16 on CUDA) the three entry points give the
    float32 results within the golden tolerance, in float32 and finite."""
    model = on_device(api.load_model(str(checkpoint_path(variant)), variant=variant), device)
    audio = loud_low.to(device)
    expected = _entry_points(model, audio)
    dtype = torch.bfloat16 if device.type == "cpu" else torch.float16
    with torch.autocast(device.type, dtype=dtype):
        got = _entry_points(model, audio)
    for name, value in got.items():
        assert value.dtype == torch.float32 and bool(value.isfinite().all()), name
        assert _relative(value, expected[name]) <= RTOL, name


def _kernel_state() -> tuple:
    return torch.get_float32_matmul_precision(), tuple(s.fp32_precision for _, s in _operators())


def test_entry_points_run_at_full_float32_and_restore_the_callers_settings(checkpoint_path, loud_low, monkeypatch):
    """Inside every entry point: matmul precision "highest", per-operator precision "ieee"
    (TF32 off for cuDNN convs and LSTMs), no autocast, no autograd; afterwards the caller's
    (here deliberately unusual) settings are back."""
    model = api.load_model(str(checkpoint_path("default")), variant="default")
    sliding = api.load_model(str(checkpoint_path("default")), variant="default", timestamp_mode="sliding")
    seen = []
    for m in (model, sliding):
        original = m.frontend.power_to_log_mel

        def record(power, original=original):
            seen.append((_kernel_state(), torch.is_autocast_enabled("cpu"), torch.is_grad_enabled()))
            return original(power)

        monkeypatch.setattr(m.frontend, "power_to_log_mel", record)
    before = _kernel_state()
    torch.set_float32_matmul_precision("medium")
    try:
        caller = _kernel_state()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            api.get_scene_embeddings(loud_low, model)
            api.get_timestamp_embeddings(loud_low, model)
            api.get_timestamp_embeddings(loud_low, sliding)
            assert torch.is_autocast_enabled("cpu")
        assert _kernel_state() == caller
    finally:
        torch.set_float32_matmul_precision(before[0])
        for (_, setting), value in zip(_operators(), before[1]):
            setting.fp32_precision = value
    assert seen and all(state == (("highest", ("ieee",) * len(_operators())), False, False) for state in seen)


def test_tf32_kernels_switch_only_the_cuda_operators():
    with float32_kernels("tf32"):
        inside = {backend: setting.fp32_precision for backend, setting in _operators()}
        matmul = torch.get_float32_matmul_precision()
    assert matmul == "high"
    assert all(value == ("tf32" if backend in ("cuda", "cudnn") else "ieee") for backend, value in inside.items())


def test_precision_option_is_validated_and_json_serialisable(checkpoint_path):
    path = str(checkpoint_path("default"))
    assert api.load_model(path, variant="default").precision == "float32"
    for precision in PRECISIONS:
        assert api.load_model(path, variant="default", **json.loads(json.dumps({"precision": precision}))).precision == precision
    with pytest.raises(InvalidOptionError, match="precision='int8'"):
        api.load_model(path, variant="default", precision="int8")


@pytest.mark.parametrize("precision", ["tf32", "bf16", "fp16"])
def test_reduced_precision_is_close_and_returns_float32(precision, checkpoint_path, loud_low, device):
    """bf16/fp16 autocast the encoder only (the loud clip would overflow an fp16 frontend);
    tf32 is exact float32 on CPU, where TF32 does not exist."""
    path = str(checkpoint_path("cvt"))
    audio = loud_low.to(device)
    exact = api.get_scene_embeddings(audio, on_device(api.load_model(path, variant="cvt"), device))
    reduced = on_device(api.load_model(path, variant="cvt", precision=precision), device)
    got = api.get_scene_embeddings(audio, reduced)
    timestamps, _ = api.get_timestamp_embeddings(audio, reduced)
    assert got.dtype == timestamps.dtype == torch.float32 and bool(timestamps.isfinite().all())
    if precision == "tf32" and device.type == "cpu":
        assert torch.equal(got, exact)
    assert float(torch.nn.functional.cosine_similarity(got, exact, dim=-1).min()) > 0.99
