"""export_onnx: every encoder family exports, verifies and describes itself in its sidecar."""
from __future__ import annotations

import hashlib
import json

import numpy as np
import onnxruntime
import pytest
import torch
from conftest import FAMILIES

#: AudioNTT and CLSTM (the family whose export once froze its time axis) in the default run; an
#: export takes 10-50 s on a shared CPU, so CvT and ResNet-ish are exported by the slow tests
#: (test_export_slow.py, at every length up to 30 s, and at a shape no check used).
FAMILY_PARAMS = ["audio_ntt", "clstm"]

from hear_byols.api import get_scene_embeddings, load_model
from hear_byols.errors import InvalidOptionError
from hear_byols.export import TOLERANCE, export_onnx
from hear_byols.export.cases import check_audio
from hear_byols.export.verify import relative_error


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_family_exports_and_verifies(family: str, family_exports) -> None:
    report = family_exports(family)
    labels = [check.label for check in report.checks]
    assert [label.split(",")[0] for label in labels[:4]] == [labels[0].split(",")[0]] * 2 + ["1 s"] * 2
    assert labels[0].startswith("min (") and labels[-1] == "1.5 s, row 2 silent"
    assert [check.shape[0] for check in report.checks[:4]] == [1, 2, 1, 2]
    assert all(check.passed and check.max_relative_error <= TOLERANCE for check in report.checks)
    assert report.path.is_file() and report.sidecar_path.is_file()


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_sidecar_describes_the_graph(family: str, family_exports, checkpoints) -> None:
    report = family_exports(family)
    variant = FAMILIES[family]
    sidecar = json.loads(report.sidecar_path.read_text())
    model = load_model(str(checkpoints(variant)), variant=variant)
    assert sidecar["graph"]["sha256"] == hashlib.sha256(report.path.read_bytes()).hexdigest()
    assert sidecar["weights"]["sha256"] == hashlib.sha256(checkpoints(variant).read_bytes()).hexdigest()
    assert sidecar["variant"] == variant and sidecar["embedding_dim"] == model.scene_embedding_size
    assert sidecar["normalization"]["mode"] == "per_clip" and sidecar["layer"]["published"] is True
    assert sidecar["inputs"] == [{"name": "audio", "dtype": "float32", "shape": ["batch", "samples"]}]
    assert sidecar["outputs"][0]["name"] == "embedding" and sidecar["min_samples"] == model.min_samples
    assert sidecar["timestamps"].items() >= {"frame_samples": 16000, "hop_samples": 800, "pad_left": 8000,
                                             "pad_right": 8000}.items()
    assert sidecar["frontend"]["included"] and sidecar["frontend"]["hop_length"] == 160
    assert isinstance(sidecar["opset"], int) and sidecar["opset"] == report.opset
    assert {"torch", "onnx", "onnxruntime", "hear_byols"} <= set(sidecar["versions"])
    assert [check["shape"] for check in sidecar["verification"]["checks"]] == [list(c.shape) for c in report.checks]


@pytest.mark.parametrize("family", FAMILY_PARAMS)
def test_graph_serves_lengths_and_batches_it_was_not_checked_at(family: str, family_exports, checkpoints) -> None:
    """The axes are dynamic: 2.5 s (off the hop grid) at batch 3, a shape no check used."""
    report = family_exports(family)
    variant = FAMILIES[family]
    model = load_model(str(checkpoints(variant)), variant=variant, normalization="per_clip")
    audio = check_audio(3, 40_003, 16000)
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = session.run(["embedding"], {"audio": audio.numpy()})[0]
    assert relative_error(got, get_scene_embeddings(audio, model).numpy()) <= TOLERANCE


def test_fixed_statistics_and_a_layer(tmp_path) -> None:
    """``[mean, std]`` and ``layer=`` on the shipped default512 weights, verified the same way; a
    silent row gets the scene path's silence embedding."""
    out = tmp_path / "fc1.onnx"
    report = export_onnx("default512", out, normalization=[-3.2, 3.5], layer="fc1", check_seconds=("min", 1.0))
    sidecar = json.loads(report.sidecar_path.read_text())
    assert sidecar["normalization"].items() >= {"mode": "fixed", "mean": -3.2, "std": 3.5}.items()
    assert sidecar["layer"].items() >= {"name": "fc1", "published": False}.items() and sidecar["embedding_dim"] == 512
    model = load_model(variant="default512", normalization=[-3.2, 3.5], layer="fc1")
    audio = torch.zeros(2, 24_000)
    audio[0] = check_audio(1, 24_000, 16000)[0]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = session.run(["embedding"], {"audio": audio.numpy()})[0]
    expected = get_scene_embeddings(audio, model).numpy()
    assert got.shape == (2, 512) and relative_error(got, expected) <= TOLERANCE
    assert np.abs(got[1] - expected[1]).max() <= TOLERANCE * np.abs(expected[1]).max()


def test_a_stats_file_from_hear_byols_stats(tmp_path) -> None:
    """``normalization="stats.json"``: the file's statistics become the graph's constants, the
    sidecar records its sha256, and a file measured with another frontend is refused."""
    from helpers.audio import tone, write_audio

    from hear_byols.stats import measure

    write_audio(tmp_path / "corpus" / "a.wav", tone(16000, 1.5, freq=330.0), 16000, "FLOAT")
    stats = measure(tmp_path / "corpus")
    stats.write(tmp_path / "stats.json")
    mean, std = stats.normalization()
    report = export_onnx("default512", tmp_path / "m.onnx", normalization=str(tmp_path / "stats.json"),
                         check_seconds=("min",), check_batches=(1,))
    entry = report.sidecar["normalization"]
    assert (entry["mode"], entry["mean"], entry["std"]) == ("fixed", mean, std)
    assert entry["stats_file"]["sha256"] == hashlib.sha256((tmp_path / "stats.json").read_bytes()).hexdigest()
    with pytest.raises(InvalidOptionError, match="frontend"):
        export_onnx("byola", tmp_path / "b.onnx", normalization=str(tmp_path / "stats.json"))
    assert not (tmp_path / "b.onnx").exists()
