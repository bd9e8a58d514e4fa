"""Hostile inputs to the HEAR API and the model (issue 17): constant audio, non-finite weights,
threads switching layers, non-finite outputs and options refused at load."""
from __future__ import annotations

import math

import pytest
import torch

from hear_byols.inference.checkpoint import model_from_checkpoint
from hear_byols.errors import InvalidOptionError
from hear_byols.logmel.normalization import apply_stats, clip_mean_std, parse_normalization, scene_stats
from hear_byols.inference.scene import scene_embeddings
from hear_byols.timestamps.exact import timestamp_embeddings
from hear_byols.timestamps.sliding import sliding_timestamp_embeddings

RATE = 16_000
#: The fp16-on-CPU slowness warning (tested on its own below) is expected in the fp16 tests.
EXPECTED_FP16_WARNING = pytest.mark.filterwarnings("ignore:precision='fp16' on the CPU:RuntimeWarning")
#: Relative tolerance of batch independence (that of tests/api/test_batch_semantics.py).
RTOL = 1e-5
COMPUTED = ["reference", "per_clip"]
FIXED = [-10.0, 4.0]
#: Lengths (s) of the silence tests; 30 s of timestamps takes seconds: marked slow.
LENGTHS = [0.5, 1.0, 2.0, 7.3, 30.0]
TIMESTAMP_LENGTHS = [0.5, 7.3, pytest.param(30.0, marks=pytest.mark.slow)]


def _samples(seconds: float) -> int:
    return int(round(seconds * RATE))


def _relative_error(ours: torch.Tensor, expected: torch.Tensor) -> float:
    return float((ours - expected).abs().max() / expected.abs().max())


def _quiet_noise(seconds: float, amplitude: float, seed: int = 0) -> torch.Tensor:
    return torch.randn(_samples(seconds), generator=torch.Generator().manual_seed(seed)) * amplitude


@pytest.fixture(scope="module")
def models(checkpoint_path):
    """default512 (deterministic weights) under each normalisation, by ``str(option)``."""
    return {
        str(norm): model_from_checkpoint("default512", checkpoint_path("default512"), norm)
        for norm in [*COMPUTED, FIXED]
    }


def _zero_log_mel_embedding(model, n_samples: int) -> torch.Tensor:
    """What a constant log-mel is defined to give: the encoder's output for a normalised log-mel of 0."""
    columns = model.spec.frontend.n_columns(n_samples)
    with torch.inference_mode():
        return model(torch.zeros(1, model.spec.frontend.n_mels, columns))[0]


# --- H3: constant log-mels (digital silence) -------------------------------------------------


@pytest.mark.parametrize("norm", COMPUTED)
@pytest.mark.parametrize("seconds", LENGTHS)
def test_silence_scene_is_the_zero_log_mel_embedding_alone_and_in_any_batch(models, norm, seconds):
    """Was amplified rounding noise: 1.4 relative between a batch of 4 and 1, cosine 0.72 between
    1 s and 2 s. Now the statistics of a constant say so, the normalised log-mel is exactly 0, and
    it is encoded as one second of itself (the frame of its exact timestamps) whatever its length."""
    model, n = models[norm], _samples(seconds)
    expected = _zero_log_mel_embedding(model, RATE)
    alone = scene_embeddings(model, torch.zeros(1, n))[0]
    batch = scene_embeddings(model, torch.zeros(3, n))
    mixed_lengths = scene_embeddings(model, [torch.zeros(n), torch.zeros(_samples(1.3)), torch.zeros(n)])
    for result in (alone, *batch, mixed_lengths[0], mixed_lengths[2]):
        assert _relative_error(result, expected) <= RTOL


def test_embed_batch_size_does_not_change_a_silent_file(tmp_path, checkpoint_path):
    """The report's symptom: 'hear-byols embed --batch-size 4' differed from '--batch-size 1' by
    2.37 relative for a silent file."""
    import numpy as np

    from helpers.audio import write_audio
    from hear_byols.cli import main

    for k in range(4):
        write_audio(tmp_path / "in" / f"silence{k}.wav", np.zeros(RATE), RATE)
    outputs = {}
    for batch_size in ("1", "4"):
        out = tmp_path / f"out{batch_size}"
        assert main(["embed", "--model", "default512", "--weights", str(checkpoint_path("default512")), "--quiet",
                     "--batch-size", batch_size, "--out", str(out), str(tmp_path / "in")]) == 0
        outputs[batch_size] = torch.from_numpy(np.load(out / "silence2.wav.npy"))
    assert _relative_error(outputs["4"], outputs["1"]) <= RTOL


def test_silence_scene_with_fixed_stats_is_batch_and_length_independent(models):
    model, n = models[str(FIXED)], _samples(2.0)
    alone = scene_embeddings(model, torch.zeros(1, n))[0]
    for result in scene_embeddings(model, [torch.zeros(n), torch.zeros(_samples(0.7)), _quiet_noise(2.0, 0.1)])[:2]:
        assert _relative_error(result, alone) <= RTOL
    frame, _ = timestamp_embeddings(model, torch.zeros(1, _samples(7.3)), hop_size=1000.0)
    assert _relative_error(frame[0, 3], alone) <= RTOL  # the scene of silence is its 1 s frame


def test_silence_beside_audio_per_clip_is_its_own_and_reference_uses_the_batch_statistics(models):
    """per_clip: silence keeps its own (zero) log-mel. reference: the batch's statistics are those of
    real audio, so silence is normalised with them, exactly as the original does; being constant,
    it is encoded as one second of that value."""
    n = _samples(2.0)
    batch = torch.stack([torch.zeros(n), _quiet_noise(2.0, 0.1)])
    per_clip = scene_embeddings(models["per_clip"], batch)
    assert _relative_error(per_clip[0], _zero_log_mel_embedding(models["per_clip"], RATE)) <= RTOL
    reference = models["reference"]
    log_mels = reference.frontend(batch)
    means, stds = scene_stats(reference.normalization, *clip_mean_std(log_mels))
    normalised = (log_mels - means[:, None, None]) / stds[:, None, None]
    one_second = normalised[:1, :, :1].expand(-1, -1, reference.spec.frontend.n_columns(RATE))
    with torch.inference_mode():
        expected = torch.cat([reference(one_second.contiguous()), reference(normalised[1:])])
    assert torch.equal(scene_embeddings(reference, batch), expected)


@pytest.mark.parametrize("norm", COMPUTED)
@pytest.mark.parametrize("seconds", TIMESTAMP_LENGTHS)
def test_silence_exact_timestamps_are_one_vector_for_every_frame_length_and_batch(models, norm, seconds):
    model, n = models[norm], _samples(seconds)
    expected = _zero_log_mel_embedding(model, RATE)  # every frame is 1 s of silence
    alone, _ = timestamp_embeddings(model, torch.zeros(1, n), hop_size=1000.0)
    batch, _ = timestamp_embeddings(model, torch.zeros(3, n), hop_size=1000.0)
    for result in (alone, batch):
        assert _relative_error(result, expected.expand_as(result)) <= RTOL


def test_silence_exact_timestamps_with_fixed_stats_are_one_vector(models):
    model = models[str(FIXED)]
    for seconds in (0.5, 7.3):
        result, _ = timestamp_embeddings(model, torch.zeros(2, _samples(seconds)), hop_size=500.0)
        assert _relative_error(result, result[:1, :1].expand_as(result)) <= RTOL


@pytest.mark.parametrize("norm", [*COMPUTED, str(FIXED)])
@pytest.mark.parametrize("seconds", TIMESTAMP_LENGTHS)
def test_silence_sliding_timestamps_do_not_depend_on_the_batch(models, norm, seconds):
    model, n = models[norm], _samples(seconds)
    alone, _ = sliding_timestamp_embeddings(model, torch.zeros(1, n), hop_size=1000.0)
    batch, _ = sliding_timestamp_embeddings(model, torch.zeros(3, n), hop_size=1000.0)
    for result in batch:
        assert _relative_error(result, alone[0]) <= RTOL
    if norm != "reference":
        beside_audio, _ = sliding_timestamp_embeddings(model, torch.stack([torch.zeros(n), _quiet_noise(seconds, 0.1)]), hop_size=1000.0)
        assert _relative_error(beside_audio[0], alone[0]) <= RTOL


@pytest.mark.parametrize("norm", [*COMPUTED, str(FIXED)])
def test_dc_input_is_batch_independent(models, norm):
    """A non-zero constant is not a constant log-mel (its spectrum has a shape): it is normalised
    like any audio, and a clip alone and a batch of the same clip agree (reference timestamps
    excepted: their statistics are divided by the batch's frame count, by design)."""
    model, n = models[norm], _samples(2.0)
    dc = torch.full((3, n), 0.25)
    assert _relative_error(scene_embeddings(model, dc)[2], scene_embeddings(model, dc[:1])[0]) <= RTOL
    if norm == "reference":
        return
    batch, _ = timestamp_embeddings(model, dc[:2], hop_size=500.0)
    alone, _ = timestamp_embeddings(model, dc[:1], hop_size=500.0)
    assert _relative_error(batch[1], alone[0]) <= RTOL


def _stats_ratio(audio: torch.Tensor, frontend) -> torch.Tensor:
    means, stds = clip_mean_std(frontend(audio))
    return stds / means.abs()


def test_the_constant_threshold_separates_rounding_from_quiet_audio(frontend):
    """Measured margin: silence's statistics have std/|mean| <= 0.51 eps (float32 rounding of the
    mean), noise at 1e-7 (below a 24-bit LSB) >= 45 eps, at 1e-6 >= 4.4e3 eps."""
    from hear_byols.logmel.normalization import CONSTANT_STD_RATIO

    eps = torch.finfo(torch.float32).eps
    constant = max(float(_stats_ratio(torch.zeros(b, _samples(s)), frontend).max()) for b in (1, 4) for s in (0.5, 7.3, 30))
    t = torch.arange(_samples(2.0)) / RATE
    quiet = torch.stack([_quiet_noise(2.0, 1e-7), _quiet_noise(2.0, 1e-6, seed=1), 1e-7 * torch.sin(2 * math.pi * 100 * t)])
    quietest = float(_stats_ratio(quiet, frontend).min())
    assert constant < CONSTANT_STD_RATIO / 4 and quietest > 8 * CONSTANT_STD_RATIO, (constant / eps, quietest / eps)


def test_statistics_of_real_audio_normalise_bit_identically_to_the_reference_formula(frontend):
    log_mels = frontend(torch.stack([_quiet_noise(1.0, 1e-7), _quiet_noise(1.0, 1e-3, seed=2)]))
    means, stds = clip_mean_std(log_mels)
    expected = (log_mels - means[:, None, None]) / stds[:, None, None]
    assert torch.equal(apply_stats(log_mels, means, stds), expected)


def test_fixed_statistics_below_float32_resolution_are_refused():
    with pytest.raises(InvalidOptionError, match="float32"):
        parse_normalization([-16.0, 1e-6])
    assert parse_normalization([-16.0, 0.01]).std == 0.01


# --- H2 (load part): non-finite weights --------------------------------------------------------


def test_weights_with_nan_or_inf_are_refused_naming_the_file_and_tensors(tmp_path):
    """Was: an all-NaN encoder.pth of a diverged pretraining loaded and gave NaN for every clip."""
    from hear_byols.api import load_model
    from hear_byols.errors import CheckpointError
    from hear_byols.testing import deterministic_state_dict

    state = deterministic_state_dict("default512")
    state["features.0.weight"].view(-1)[3] = math.nan
    state["fc.3.bias"][0] = -math.inf
    path = tmp_path / "diverged.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"diverged\.pth.*2 tensors.*features\.0\.weight \(1 NaN\).*fc\.3\.bias \(1 Inf\)"):
        load_model(str(path), variant="default512")


# --- H10: select_layer from another thread during a call --------------------------------------


def _racing_results(model, layers: tuple[str, str], call, n_calls: int) -> list:
    """``n_calls`` results of ``call()`` while another thread switches ``model`` between ``layers``."""
    import threading

    stop = threading.Event()

    def flip() -> None:
        while not stop.is_set():
            for name in layers:
                model.select_layer(name)
                stop.wait(0.001)  # lets the calls run: a spinning thread would hold the GIL

    flipper = threading.Thread(target=flip)
    flipper.start()
    try:
        return [call() for _ in range(n_calls)]
    finally:
        stop.set()
        flipper.join()
        model.select_layer(None)


def _one_layer_results(model, layers: tuple[str, str], call) -> list:
    expected = []
    for name in layers:
        model.select_layer(name)
        expected.append(call())
    model.select_layer(None)
    return expected


@pytest.mark.parametrize("layers", [("conv3", "fc2"), ("conv1", "fc2")], ids=["same_size", "other_size"])
def test_a_call_takes_all_its_rows_from_one_layer_while_another_thread_switches(checkpoint_path, layers):
    """Was: 36 of 40 scene calls mixed the rows of two layers; a raw RuntimeError when their sizes differ."""
    model = model_from_checkpoint("default512", checkpoint_path("default512"), "per_clip")
    generator = torch.Generator().manual_seed(3)
    # clips of three lengths: three forward passes per scene call; 4 frames, 2 per pass: several per timestamp call
    clips = [torch.randn(n, generator=generator) * 0.1 for n in (2_400, 3_000, 4_000, 2_400)]
    calls = {
        "scene": lambda: scene_embeddings(model, clips),
        "exact": lambda: timestamp_embeddings(model, torch.stack(clips[:1] * 2), hop_size=50.0, frames_per_forward=2)[0],
    }
    for name, call in calls.items():
        expected = _one_layer_results(model, layers, call)
        for result in _racing_results(model, layers, call, n_calls=6):
            assert any(result.shape == e.shape and _relative_error(result, e) <= RTOL for e in expected), name


# --- L2: an option pair that can never work is refused at load --------------------------------


@pytest.mark.parametrize("layer", ["lstm", None])
def test_sliding_with_a_last_step_layer_is_refused_at_load_before_any_weights(layer):
    """Was accepted at load, then failed for every file. '' (official weights): clstm has none, so a
    refusal that looked for them first would be a WeightsUnavailableError instead."""
    from hear_byols.api import load_model

    named = layer or "fc"
    with pytest.raises(InvalidOptionError, match=rf"layer '{named}' of hear_byols\.clstm.*\['conv1', 'conv2'\]"):
        load_model("", variant="clstm", timestamp_mode="sliding", layer=layer)


def test_the_cli_exits_2_for_sliding_with_a_last_step_layer(tmp_path, checkpoint_path, capsys):
    from hear_byols.cli import main

    wav = tmp_path / "a.wav"
    wav.write_bytes(b"")  # never read: the options fail first
    status = main(["embed", "--model", "clstm", "--weights", str(checkpoint_path("clstm")), "--timestamps",
                   "--timestamp-mode", "sliding", "--layer", "lstm", "--out", str(tmp_path / "out"), str(wav)])
    assert status == 2 and "last recurrent state" in capsys.readouterr().err


def test_the_cli_ignores_the_timestamp_mode_for_scene_embeddings(tmp_path, checkpoint_path):
    """Scene embeddings have no timestamp mode: the load check must not refuse a scene run for it."""
    import numpy as np

    from helpers.audio import write_audio
    from hear_byols.cli import main

    write_audio(tmp_path / "in" / "a.wav", np.sin(np.arange(RATE) / 10.0) * 0.1, RATE)
    status = main(["embed", "--model", "clstm", "--weights", str(checkpoint_path("clstm")), "--quiet",
                   "--timestamp-mode", "sliding", "--layer", "lstm", "--out", str(tmp_path / "out"),
                   str(tmp_path / "in")])
    assert status == 0 and np.load(tmp_path / "out" / "a.wav.npy").shape == (1024,)


# --- M10: non-finite outputs name their cause ---------------------------------------------------


def _noise(n_clips: int = 2, n_samples: int = 8_000) -> torch.Tensor:
    return torch.rand(n_clips, n_samples, generator=torch.Generator().manual_seed(0)) * 2 - 1


def _scaled_model(checkpoint_path, precision: str, scale: float):
    """default512 whose first MLP layer is multiplied by ``scale`` (finite, extreme weights)."""
    from hear_byols.api import load_model

    model = load_model(str(checkpoint_path("default512")), variant="default512", precision=precision)
    with torch.no_grad():
        model.encoder.fc[0].weight.mul_(scale)
    return model


@pytest.mark.parametrize("entry", ["scene", "timestamps"])
def test_non_finite_weights_are_named_not_blamed_on_the_audio(checkpoint_path, entry):
    """Was: 'their peak amplitude 1 overflows the float32 spectrogram' for audio in [-1, 1]."""
    from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, load_model
    from hear_byols.errors import ModelNumericsError

    model = load_model(str(checkpoint_path("default512")), variant="default512")
    with torch.no_grad():
        model.encoder.fc[0].bias[5] = math.nan
    call = get_scene_embeddings if entry == "scene" else lambda a, m: get_timestamp_embeddings(a, m, hop_size=500.0)
    with pytest.raises(ModelNumericsError, match=r"weights.*fc\.0\.bias \(1 NaN\)") as raised:
        call(_noise(), model)
    assert "amplitude" not in str(raised.value)


@EXPECTED_FP16_WARNING
def test_reduced_precision_overflow_in_the_encoder_says_use_bf16_or_float32(checkpoint_path):
    from hear_byols.api import get_scene_embeddings
    from hear_byols.errors import ModelNumericsError

    assert torch.isfinite(get_scene_embeddings(_noise(), _scaled_model(checkpoint_path, "float32", 1e6))).all()
    with pytest.raises(ModelNumericsError, match=r"precision='fp16'.*65504.*'bf16'.*'float32'") as raised:
        get_scene_embeddings(_noise(), _scaled_model(checkpoint_path, "fp16", 1e6))
    assert "amplitude" not in str(raised.value)


def test_float32_overflow_in_the_encoder_on_finite_input_blames_the_weights(checkpoint_path):
    from hear_byols.api import get_scene_embeddings
    from hear_byols.errors import ModelNumericsError

    with pytest.raises(ModelNumericsError, match=r"finite.*largest \|weight\|"):
        get_scene_embeddings(_noise(), _scaled_model(checkpoint_path, "float32", 1e37))


@EXPECTED_FP16_WARNING
def test_audio_overflowing_the_spectrogram_is_still_the_audio_error(checkpoint_path):
    """per_clip: only the loud clip is not finite (reference statistics would spread it to all)."""
    from hear_byols.api import get_scene_embeddings, load_model
    from hear_byols.errors import InvalidAudioError

    model = load_model(str(checkpoint_path("default512")), variant="default512", normalization="per_clip", precision="fp16")
    loud = _noise() * torch.tensor([[1.0], [1e20]])
    with pytest.raises(InvalidAudioError, match=r"clip\(s\) \[1\].*peak amplitude 1e\+20 overflows the float32 spectrogram"):
        get_scene_embeddings(loud, model)


@pytest.mark.slow
@EXPECTED_FP16_WARNING
def test_resnetish34_fp16_overflow_on_noise_is_named(checkpoint_path):
    """The issue's case: resnetish34, precision='fp16', noise in [-1, 1] (about 10 s on a loaded CPU)."""
    from hear_byols.api import get_scene_embeddings, load_model
    from hear_byols.errors import ModelNumericsError

    model = load_model(str(checkpoint_path("resnetish34")), variant="resnetish34", precision="fp16")
    with pytest.raises(ModelNumericsError, match="precision='fp16'"):
        get_scene_embeddings(_noise(1, 4_000), model)


# --- L11: fp16 on a CPU is many times slower than float32: the call says so ---------------------


def test_fp16_on_the_cpu_warns_that_it_is_slower_and_float32_does_not(checkpoint_path):
    import warnings

    from hear_byols.api import get_scene_embeddings, load_model

    audio = _noise(1, 4_000)
    with pytest.warns(RuntimeWarning, match=r"precision='fp16' on the CPU.*slower than float32.*GPU"):
        get_scene_embeddings(audio, load_model(str(checkpoint_path("default512")), variant="default512", precision="fp16"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for precision in ("float32", "bf16"):
            get_scene_embeddings(audio, load_model(str(checkpoint_path("default512")), variant="default512", precision=precision))
