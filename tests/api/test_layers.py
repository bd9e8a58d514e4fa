"""Layer-wise features: ``load_model(layer=...)`` selects an intermediate representation.

Checked for every variant: the layer list (one definition, sizes that match the outputs),
the shapes of every layer's scene and timestamp embeddings in both timestamp modes, that the
final layer is the published embedding bit for bit, that each layer taps the reference
module tree where its name says (forward hooks on the full forward pass are the oracle),
and that bad names are refused with the valid ones listed.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F

from helpers.devices import on_device
from helpers.variants import ALL_VARIANTS, encoder_type_and_pooling, one_variant_per
from hear_byols import api
from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.cli import main
from hear_byols.encoders.base import LAST_STEP, MEAN, MEAN_MAX, mean_plus_max_over_time
from hear_byols.encoders.fast import encode, pools_over_time
from hear_byols.errors import InvalidOptionError
from hear_byols.variants import variant_spec

from evaluation.layers_table import layers_table
from evaluation.marked_blocks import read_block

#: relative tolerance of a tapped layer against the hooked reference forward (same modules,
#: same order: only the float rounding of a shorter graph may differ)
TAP_RTOL = 1e-6
#: the final layer through the layer path against the eval fast path (folded batch norms,
#: reordered pools: ~1e-6 rounding, as tests/encoders/test_encoder_eval_paths.py allows)
FAST_PATH_RTOL = 1e-5
#: 1 s clips with 500 ms hops: 3 frames, every layer of every variant in seconds
CLIP_SAMPLES = 16000
HOP_MS = 500.0

#: where each layer taps the reference module tree: ``(module path, how its output is read)``.
#: Written independently of the encoders' own layer code, so a tap at the wrong depth fails.
TAPS = {
    "audio_ntt": {"conv1": "features.3", "conv2": "features.7", "conv3": "features.11", "fc1": "fc.1", "fc2": "fc.4"},
    "cvt": {"stage1": "layers.0", "stage2": "layers.1", "stage3": "layers.2"},
    "resnetish": {"stage1": "layer1", "stage2": "layer2", "stage3": "layer3", "stage4": "layer4"},
    "clstm": {"conv1": "conv.3", "conv2": "conv.7", "lstm": "bilstm", "fc": "fc_final"},
}


@pytest.fixture(scope="module")
def models(checkpoint_path):
    """``models(variant)``: the variant with deterministic weights, loaded once per module."""
    cache = {}

    def get(variant: str):
        if variant not in cache:
            cache[variant] = model_from_checkpoint(variant, checkpoint_path(variant))
        return cache[variant]

    return get


@pytest.fixture(scope="module")
def clips() -> torch.Tensor:
    generator = torch.Generator().manual_seed(11)
    return (torch.rand(2, CLIP_SAMPLES, generator=generator) * 2 - 1) * 0.5


def layer_names(variant: str) -> list[str]:
    return [layer.name for layer in variant_spec(variant).layers()]


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_layer_lists_are_defined_once_and_end_with_the_embedding(variant, models):
    spec = variant_spec(variant)
    model = models(variant)
    layers = spec.layers()
    assert model.layers == layers == tuple(api.list_layers(variant))
    assert len({layer.name for layer in layers}) == len(layers) >= 3
    assert all(layer.size > 0 and layer.pooling in (MEAN_MAX, MEAN, LAST_STEP) for layer in layers)
    final = layers[-1]
    assert final.size == spec.embedding_size == model.encoder.embedding_size
    assert final.pools_over_time == pools_over_time(model.encoder)
    assert model.layer == final.name and model.final_layer_selected
    assert set(TAPS[spec.encoder_type]) == {layer.name for layer in layers}


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_every_layer_has_the_shapes_it_reports(variant, models, clips):
    model = models(variant)
    try:
        for layer in model.layers:
            model.select_layer(layer.name)
            assert model.layer == layer.name
            assert model.scene_embedding_size == model.timestamp_embedding_size == layer.size
            scene = api.get_scene_embeddings(clips, model)
            assert scene.shape == (2, layer.size) and scene.dtype == torch.float32
            modes = ("exact", "sliding") if layer.pools_over_time else ("exact",)
            for mode in modes:
                model.timestamp_mode = mode
                embeddings, timestamps = api.get_timestamp_embeddings(clips, model, hop_size=HOP_MS)
                assert embeddings.shape == (2, 3, layer.size), mode
                assert timestamps.tolist() == [[0.0, 500.0, 1000.0]] * 2
                assert bool(embeddings.isfinite().all())
            model.timestamp_mode = "exact"
    finally:
        model.select_layer(None)
        model.timestamp_mode = "exact"


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_the_last_layer_by_name_is_the_default_bit_for_bit(variant, models, checkpoint_path, clips, device):
    default = on_device(models(variant), device)
    final = layer_names(variant)[-1]
    named = on_device(api.load_model(str(checkpoint_path(variant)), variant=variant, layer=final), device)
    assert named.layer == default.layer == final
    audio = clips.to(device)
    assert torch.equal(api.get_scene_embeddings(audio, named), api.get_scene_embeddings(audio, default))
    modes = ("exact", "sliding") if named.selected_layer.pools_over_time else ("exact",)
    try:
        for mode in modes:
            named.timestamp_mode = default.timestamp_mode = mode
            for got, expected in zip(
                api.get_timestamp_embeddings(audio, named, hop_size=HOP_MS),
                api.get_timestamp_embeddings(audio, default, hop_size=HOP_MS),
            ):
                assert torch.equal(got, expected), mode
    finally:
        default.timestamp_mode = "exact"


def test_selecting_the_default_again_restores_the_published_embedding(models, clips):
    model = models("default")
    published = api.get_scene_embeddings(clips, model)
    model.select_layer("conv2")
    try:
        assert model.scene_embedding_size == 1024
        assert not torch.equal(api.get_scene_embeddings(clips, model)[:, :16], published[:, :16])
    finally:
        model.select_layer(None)
    assert model.scene_embedding_size == 2048
    assert torch.equal(api.get_scene_embeddings(clips, model), published)


def _hooked_reference(encoder, log_mel: torch.Tensor, encoder_type: str, mean_pooled: bool) -> dict[str, torch.Tensor]:
    """Every layer's pooled output, read by forward hooks from one full reference forward pass;
    ``mean_pooled``: maps pooled as SERAB's CvT ``pool='mean'`` (``AdaptiveAvgPool2d(1)``)."""
    captured = {}
    modules = dict(encoder.named_modules())
    handles = []
    for name, path in TAPS[encoder_type].items():

        def hook(module, inputs, output, name=name):
            captured[name] = (output[0] if isinstance(output, tuple) else output).detach().clone()

        handles.append(modules[path].register_forward_hook(hook))
    try:
        with torch.no_grad():
            encoder(log_mel)
    finally:
        for handle in handles:
            handle.remove()
    pooled = {}
    for name, output in captured.items():
        if mean_pooled:
            pooled[name] = F.adaptive_avg_pool2d(output, 1).flatten(1)
            continue
        if output.dim() == 4:  # (B, C, F, T) feature map -> per-step features
            output = output.permute(0, 3, 2, 1).flatten(2)
        if output.dim() == 2:  # clstm's fc: already one vector per clip
            pooled[name] = output
        elif name == "lstm":  # the recurrent state at the last time step
            pooled[name] = output[:, -1]
        else:
            pooled[name] = mean_plus_max_over_time(output)
    return pooled


@pytest.mark.parametrize("variant", one_variant_per(encoder_type_and_pooling))
def test_each_layer_taps_the_reference_module_its_name_says(variant, models):
    """One variant per encoder type and pooling of the published layer stands for the others of
    its kind (same modules, same taps), e.g. ``cvt_byols_bs512`` for the mean-pooled CvTs."""
    model = models(variant)
    encoder, encoder_type = model.encoder, variant_spec(variant).encoder_type
    log_mel = torch.randn(2, 1, 64, 48, generator=torch.Generator().manual_seed(3))
    expected = _hooked_reference(encoder, log_mel, encoder_type, mean_pooled=model.layers[-1].pooling == MEAN)
    with torch.no_grad():
        for layer in model.layers:
            got = encoder.layer_embedding(log_mel, layer.name)
            assert got.shape == (2, layer.size)
            error = float((got - expected[layer.name]).abs().max() / expected[layer.name].abs().max())
            assert error <= TAP_RTOL, f"{layer.name}: {error:.3g}"
        final = encoder.layer_embedding(log_mel, model.layers[-1].name)
        fast = encode(encoder, log_mel)
        assert float((final - fast).abs().max() / fast.abs().max()) <= FAST_PATH_RTOL


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_a_wrong_layer_name_lists_the_valid_ones_before_any_weights_are_looked_for(variant, monkeypatch, tmp_path):
    monkeypatch.setenv("HEAR_BYOLS_OFFLINE", "1")
    monkeypatch.setenv("HEAR_BYOLS_CACHE_DIR", str(tmp_path))
    for wrong in ("stage9", "", 2, ["conv1"], "FC2"):
        with pytest.raises(InvalidOptionError) as raised:
            api.load_model(variant=variant, layer=wrong)
        message = str(raised.value)
        assert f"layer={wrong!r}" in message and f"hear_byols.{variant}" in message
        assert all(repr(name) in message for name in layer_names(variant))


def test_select_layer_refuses_a_wrong_name_and_keeps_the_selection(models):
    model = models("cvt")
    with pytest.raises(InvalidOptionError, match="'stage1' \\(1024\\), 'stage2' \\(2048\\), 'stage3' \\(2048\\)"):
        model.select_layer("conv1")
    assert model.layer == "stage3" and model.scene_embedding_size == 2048


def test_the_layer_option_is_json_serialisable_and_shown(checkpoint_path):
    options = json.loads(json.dumps({"layer": "stage2", "timestamp_mode": "sliding"}))
    model = api.load_model(str(checkpoint_path("cvt")), variant="cvt", **options)
    assert model.layer == "stage2" and model.scene_embedding_size == 2048
    assert "layer='stage2'" in repr(model)


def test_sliding_refuses_the_recurrent_layers_and_names_the_pooled_ones(checkpoint_path, clips):
    for layer in ("lstm", "fc"):
        with pytest.raises(InvalidOptionError, match=f"layer '{layer}'.*last recurrent state.*\\['conv1', 'conv2'\\]"):
            api.load_model(str(checkpoint_path("clstm")), variant="clstm", timestamp_mode="sliding", layer=layer)
    # a recurrent layer selected later is refused by the call
    model = api.load_model(str(checkpoint_path("clstm")), variant="clstm", timestamp_mode="sliding", layer="conv2")
    model.select_layer("lstm")
    with pytest.raises(InvalidOptionError, match="layer 'lstm'.*last recurrent state"):
        api.get_timestamp_embeddings(clips, model, hop_size=HOP_MS)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_reduced_precision_applies_to_intermediate_layers(precision, checkpoint_path, clips, device):
    """CPU autocast supports bf16 and fp16 for these ops: the layer path runs under it too."""
    path = str(checkpoint_path("cvt"))
    audio = clips.to(device)
    exact = api.get_scene_embeddings(audio, on_device(api.load_model(path, variant="cvt", layer="stage2"), device))
    reduced = on_device(api.load_model(path, variant="cvt", layer="stage2", precision=precision), device)
    got = api.get_scene_embeddings(audio, reduced)
    embeddings, _ = api.get_timestamp_embeddings(audio, reduced, hop_size=HOP_MS)
    assert got.dtype == embeddings.dtype == torch.float32 and not torch.equal(got, exact)
    assert float(torch.nn.functional.cosine_similarity(got, exact, dim=-1).min()) > 0.99


def test_state_dict_keys_do_not_depend_on_the_layer(models):
    model = models("resnetish34")
    keys = list(model.encoder.state_dict())
    model.select_layer("stage1")
    try:
        assert list(model.encoder.state_dict()) == keys and list(model.state_dict()) == [f"encoder.{k}" for k in keys]
    finally:
        model.select_layer(None)


@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_info_lists_the_layers_with_their_sizes(variant, capsys):
    assert main(["info", "--layers", variant]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    layers = api.list_layers(variant)
    assert [(row[0], int(row[1])) for row in rows[: len(layers)]] == [(layer.name, layer.size) for layer in layers]
    assert "default" in " ".join(rows[len(layers) - 1]) and not any("default" in " ".join(r) for r in rows[: len(layers) - 1])


def test_info_refuses_an_unknown_variant(capsys):
    assert main(["info", "--layers", "cvt2"]) == 2
    assert "invalid choice: 'cvt2'" in capsys.readouterr().err


def test_docs_layer_table_matches_the_encoders():
    """docs/LAYERS.md's table is what evaluation/layers_table.py derives from the encoders (``make docs-tables``)."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "LAYERS.md").read_text(encoding="utf-8")
    block = read_block(docs, "layers-table").splitlines()
    expected = layers_table().splitlines()
    assert block == expected, "run `make docs-tables`, or replace docs/LAYERS.md's layer table with:\n" + "\n".join(expected)


def test_evaluation_run_passes_the_layer_to_heareval(tmp_path):
    """``python -m evaluation run --model-options '{"layer": "conv2"}'`` needs nothing more: the
    option reaches heareval's runner, which names the embedding folder after it."""
    from evaluation.harnesses.heareval import RunConfig, embed_task_dir, embeddings_command
    from evaluation.weights import OFFICIAL_DEFAULT

    run = RunConfig(tmp_path / "tasks", tmp_path / "out", {"layer": "conv2"}, "faster")
    command = embeddings_command(run, "hear_byols.default", "t", OFFICIAL_DEFAULT)
    assert json.loads(command[command.index("--model-options") + 1]) == {"layer": "conv2"}
    assert embed_task_dir(run, "hear_byols.default", "t").parent.name == "hear_byols.default-layer=conv2"


def test_byola_layer_sizes_follow_the_checkpoint_width(checkpoint_path, clips):
    model = api.load_model(str(checkpoint_path("byola_d512")), variant="byola", layer="fc1")
    assert [layer.size for layer in model.layers] == [2048, 1024, 512, 512, 512]
    assert api.get_scene_embeddings(clips, model).shape == (2, 512) == (2, model.scene_embedding_size)
