"""State dicts equal the manifests; checkpoints load strictly, unwrap, and fail precisely."""
from __future__ import annotations

import json

import pytest
import torch

import hear_byols.cvt
import hear_byols.default
from conftest import BYOLS_VARIANTS, FIXTURES
from hear_byols.checkpoint import identify_variants
from hear_byols.errors import CheckpointError, WrongVariantError
from hear_byols.loading import model_from_checkpoint
from weight_rule import deterministic_state_dict


@pytest.mark.parametrize("variant", BYOLS_VARIANTS)
def test_encoder_state_dict_equals_manifest(variant, checkpoint_path):
    manifest = json.loads((FIXTURES / "manifests" / f"{variant}.json").read_text())
    model = model_from_checkpoint(variant, checkpoint_path(variant))
    state = model.encoder.state_dict()
    assert [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()] == manifest["entries"]
    assert sum(p.numel() for p in model.encoder.parameters()) == manifest["param_count"]
    assert sum(v.numel() for v in state.values()) == manifest["state_dict_numel"]


@pytest.mark.parametrize("variant", BYOLS_VARIANTS)
def test_weights_round_trip_bit_exactly(variant, checkpoint_path):
    model = model_from_checkpoint(variant, checkpoint_path(variant))
    for key, value in deterministic_state_dict(variant).items():
        assert torch.equal(model.encoder.state_dict()[key], value), key


@pytest.mark.parametrize("variant", BYOLS_VARIANTS)
def test_package_weight_rule_equals_the_fixture_rule(variant):
    """hear_byols.testing (used by the CLI tests and the offline demo) builds its state dict from
    the config's encoder: it must equal the manifest-driven rule entry for entry, bit for bit."""
    from hear_byols.testing import deterministic_state_dict as package_rule

    ours, fixture = package_rule(variant), deterministic_state_dict(variant)
    assert list(ours) == list(fixture)
    for key in fixture:
        assert torch.equal(ours[key], fixture[key]), key


def test_model_state_dict_adds_no_frontend_entries(checkpoint_path):
    model = model_from_checkpoint("cvt", checkpoint_path("cvt"))
    assert all(key.startswith("encoder.") for key in model.state_dict())


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"state_dict": sd, "epoch": 3},
        lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {
            **{f"online_encoder.net.{k}": v for k, v in sd.items()},
            **{f"target_encoder.net.{k}": torch.zeros_like(v) for k, v in sd.items()},
        },
        lambda sd: {f"encoder.{k}": v for k, v in sd.items()},
    ],
    ids=["lightning", "lightning+prefix", "data-parallel", "byol-online-target", "saved-wrapper"],
)
def test_training_checkpoints_are_unwrapped(tmp_path, wrap):
    state = deterministic_state_dict("cvt")
    path = tmp_path / "wrapped.ckpt"
    torch.save(wrap(state), path)
    model = model_from_checkpoint("cvt", path)
    for key, value in state.items():
        assert torch.equal(model.encoder.state_dict()[key], value)


def test_saved_model_state_dict_loads_back(tmp_path, checkpoint_path):
    model = model_from_checkpoint("cvt", checkpoint_path("cvt"))
    torch.save(model.state_dict(), tmp_path / "resaved.pth")
    again = model_from_checkpoint("cvt", tmp_path / "resaved.pth")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_wrong_variant_is_named(checkpoint_path):
    with pytest.raises(WrongVariantError, match=r"holds weights of hear_byols.cvt .*not of hear_byols.default"):
        hear_byols.default.load_model(str(checkpoint_path("cvt")))
    with pytest.raises(WrongVariantError, match=r"hear_byols.resnetish34"):
        hear_byols.cvt.load_model(str(checkpoint_path("resnetish34")))


def test_audio_ntt_checkpoint_is_recognised_as_default_or_byola(checkpoint_path):
    state = torch.load(checkpoint_path("default"), weights_only=True)
    assert identify_variants(state) == ["byola", "default"]


def test_unknown_state_dict(tmp_path):
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"does not match hear_byols.cvt: \d+ missing keys"):
        hear_byols.cvt.load_model(str(tmp_path / "other.pth"))


def test_wrong_shapes_are_reported(tmp_path):
    state = deterministic_state_dict("cvt")
    state["layers.0.0.weight"] = torch.zeros(32, 1, 7, 7)
    torch.save(state, tmp_path / "bad_shape.pth")
    with pytest.raises(CheckpointError, match=r"layers.0.0.weight.*\[32, 1, 7, 7\]"):
        hear_byols.cvt.load_model(str(tmp_path / "bad_shape.pth"))


def test_truncated_checkpoint(tmp_path, checkpoint_path):
    data = checkpoint_path("cvt").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        hear_byols.cvt.load_model(str(tmp_path / "cut.pth"))


def test_garbage_file(tmp_path):
    (tmp_path / "garbage.pth").write_bytes(b"this is not a checkpoint" * 100)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        hear_byols.cvt.load_model(str(tmp_path / "garbage.pth"))


def test_pickled_module_is_refused_by_safe_loading(tmp_path):
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pth")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        hear_byols.cvt.load_model(str(tmp_path / "module.pth"))


@pytest.mark.parametrize("payload", [[1, 2, 3], torch.zeros(3), {"a": 1}])
def test_not_a_state_dict(tmp_path, payload):
    torch.save(payload, tmp_path / "odd.pth")
    with pytest.raises(CheckpointError, match="state dict"):
        hear_byols.cvt.load_model(str(tmp_path / "odd.pth"))
