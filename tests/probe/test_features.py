"""Features of the probe: the model specs, the normalisation policies, the content-keyed cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.probe.contents import stage
from hear_byols.probe.features import FeatureRequest, read
from hear_byols.probe.modelspec import parse_model, parse_models
from hear_byols.probe.normalization import FIXED, SERAB_STATS, TRAIN, parse_policy, serab_statistics

from helpers.probe_corpus import synthetic_clip
from helpers.audio import write_audio


def test_model_specs_name_variants_layers_and_baselines() -> None:
    assert parse_model("default512:conv3").layer == "conv3"
    assert parse_model("egemaps").is_baseline and parse_model("compare").baseline == "compare"
    with pytest.raises(InvalidOptionError, match="no layer 'conv9'.*conv1, conv2, conv3"):
        parse_model("default512:conv9")
    with pytest.raises(InvalidOptionError, match="unknown model"):
        parse_model("wav2vec")
    with pytest.raises(InvalidOptionError, match="more than once"):
        parse_models(["egemaps", "egemaps"])


def test_policies_parse_and_serab_values_are_the_papers() -> None:
    assert parse_policy("train").kind == TRAIN
    fixed = parse_policy("-5.5,3.25")
    assert (fixed.kind, fixed.mean, fixed.std) == (FIXED, -5.5, 3.25)
    assert serab_statistics("ravdess", "ravdess") == (-10.3203, 4.9996)
    assert serab_statistics("crema_d", "x") == (-4.9937, 3.1366) and len(SERAB_STATS) == 9
    for bad in ("1,0", "nan,1", "a,b", "tuesday"):
        with pytest.raises(InvalidOptionError):
            parse_policy(bad)
    with pytest.raises(UsageError, match="no statistics for 'mine'.*--normalization train"):
        serab_statistics(None, "mine")


def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    """Two paths with the same bytes share a link; an edited file gets another."""
    a, b = tmp_path / "a.wav", tmp_path / "sub" / "b.wav"
    for path in (a, b):
        write_audio(path, synthetic_clip("low", 0, 0), 16000, "PCM_16")
    staged = stage([a, b, tmp_path / "missing.wav"], tmp_path / "cache")
    assert staged.links[a].name == staged.links[b].name and staged.links[a].suffix == ".wav"
    assert list(staged.unreadable) == [tmp_path / "missing.wav"]
    write_audio(a, synthetic_clip("high", 0, 0), 16000, "PCM_16")
    assert stage([a], tmp_path / "cache").links[a].name != staged.links[b].name


def test_reading_refuses_a_partial_cache_and_nan_features(tmp_path: Path) -> None:
    links = [tmp_path / "x.wav", tmp_path / "y.wav"]
    folder = tmp_path / "features"
    folder.mkdir()
    np.save(folder / "x.wav.npy", np.ones(4, np.float32))
    request = FeatureRequest(parse_model("egemaps"), None, links)
    with pytest.raises(UsageError, match="1 clip.*no cached features.*clip-y"):
        read(folder, request, ["clip-x", "clip-y"])
    np.save(folder / "y.wav.npy", np.array([1, np.nan, 0, 0], np.float32))
    with pytest.raises(UsageError, match="NaN or Inf.*clip-y"):
        read(folder, request, ["clip-x", "clip-y"])
    (folder / "y.wav.npy").unlink()
    (folder / "y.wav.failed").write_text("not audio")
    matrix = read(folder, request, ["clip-x", "clip-y"])
    assert matrix.rows == [0] and matrix.failed == {1: "not audio"}


@pytest.mark.parametrize("baseline, width", [("egemaps", 88), ("compare", 6373)])
def test_opensmile_baselines_give_their_functionals_once(tmp_path: Path, baseline: str, width: int) -> None:
    """eGeMAPSv02 (88) and ComParE_2016 (6,373) functionals per clip, finite, cached: a second pass
    computes nothing; an unreadable clip is recorded as failed with its reason, not dropped."""
    from hear_byols.distributed import Shard
    from hear_byols.probe.smile import compute_baseline, failed_outputs

    links = []
    for take, label in enumerate(("low", "high")):
        links.append(tmp_path / f"clip{take}.wav")
        write_audio(links[-1], synthetic_clip(label, 1, take), 16000, "PCM_16")
    links.append(tmp_path / "broken.wav")
    links[-1].write_bytes(b"RIFF not audio")
    folder = tmp_path / "cache" / baseline
    first = compute_baseline(links, baseline, folder, Shard())
    assert (first.written, first.skipped, first.failed) == (2, 0, 1)
    rows = [np.load(folder / f"clip{take}.wav.npy") for take in range(2)]
    assert all(row.shape == (width,) and row.dtype == np.float32 and np.isfinite(row).all() for row in rows)
    assert not np.array_equal(rows[0], rows[1])
    assert list(failed_outputs(folder)) and "broken" in " ".join(failed_outputs(folder))
    again = compute_baseline(links, baseline, folder, Shard())
    assert (again.written, again.skipped) == (0, 2)
