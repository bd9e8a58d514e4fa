"""State dicts equal the manifests; checkpoints load strictly, unwrap, and fail precisely."""
from __future__ import annotations

import json

import pytest
import torch

import hear_byols.byola
import hear_byols.cvt
import hear_byols.cvt_byols
import hear_byols.default
import hear_byols.default1024
from helpers.fixture_files import FIXTURES
from helpers.variants import ALL_VARIANTS, CHECKPOINT_PARAMS
from hear_byols.inference.checkpoint import identify_variants
from hear_byols.errors import CheckpointError, WrongVariantError
from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.testing import deterministic_state_dict
from hear_byols.variants import variant_spec


#: Manifest of the original state dict -> the test checkpoint that must match it.
MANIFESTS = {
    "default": "default",
    "resnetish34": "resnetish34",
    "clstm": "clstm",
    "cvt": "cvt",
    "byola_d512": "byola_d512",
    "byola_d2048": "byola_d2048",
}


@pytest.mark.parametrize("manifest", MANIFESTS)
def test_encoder_state_dict_equals_manifest(manifest, checkpoint_path):
    """Keys, shapes, dtypes and order of the original's state dicts (strict loading works)."""
    data = json.loads((FIXTURES / "manifests" / f"{manifest}.json").read_text())
    variant = CHECKPOINT_PARAMS.get(manifest, (manifest,))[0]
    model = model_from_checkpoint(variant, checkpoint_path(MANIFESTS[manifest]))
    state = model.encoder.state_dict()
    assert [[k, list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in state.items()] == data["entries"]
    assert sum(p.numel() for p in model.encoder.parameters()) == data["param_count"]
    assert len(state) == data["n_entries"]
    if "state_dict_numel" in data:  # the BYOL-A manifests do not record it
        assert sum(v.numel() for v in state.values()) == data["state_dict_numel"]


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_weights_round_trip_bit_exactly(variant, checkpoint_path):
    model = model_from_checkpoint(variant, checkpoint_path(variant))
    for key, value in deterministic_state_dict(variant).items():
        assert torch.equal(model.encoder.state_dict()[key], value), key


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_variant_config_matches_its_encoder(variant):
    """The config's embedding size is what the encoder produces (the README table prints it)."""
    spec = variant_spec(variant)
    assert spec.build_encoder(meta=True).embedding_size == spec.embedding_size


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


def test_audio_ntt_checkpoint_is_recognised_by_its_shapes(checkpoint_path):
    """Fixed-width variants first; BYOL-A (any width) last."""
    for variant in ("default", "default512", "default1024"):
        state = torch.load(checkpoint_path(variant), weights_only=True)
        assert identify_variants(state) == [variant, "byola"]
    state = torch.load(checkpoint_path("cvt"), weights_only=True)
    assert identify_variants(state) == ["cvt", "cvt_byols", "cvt_byols_bs512"]
    state = torch.load(checkpoint_path("cvt_byols_small"), weights_only=True)
    assert identify_variants(state) == ["cvt_byols_small"]


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


def test_real_default512_file_names_its_module(real_default512):
    """SERAB's d=512 file fits AudioNTT d=512 and BYOL-A's any-width AudioNTT: its hash says
    it is BYOL-S, so BYOL-A's fixed normalisation is never silently applied to it."""
    for module in (hear_byols.default, hear_byols.byola, hear_byols.default1024):
        with pytest.raises(WrongVariantError, match=r"use hear_byols\.default512: hear_byols\.default512\.load_model"):
            module.load_model(str(real_default512))


def test_fine_tuned_file_of_another_width_names_the_modules_that_fit(checkpoint_path):
    with pytest.raises(WrongVariantError, match=r"use hear_byols\.default1024: .*\(or hear_byols\.byola"):
        hear_byols.default.load_model(str(checkpoint_path("default1024")))
    assert hear_byols.byola.load_model(str(checkpoint_path("default1024"))).scene_embedding_size == 1024


def test_an_architecture_twin_loads_in_either_module(checkpoint_path):
    """cvt and cvt_byols share the CvT 64/256/512 architecture: a file that is not an official
    one cannot be told apart, so both modules accept it."""
    assert hear_byols.cvt_byols.load_model(str(checkpoint_path("cvt"))).variant == "cvt_byols"
