"""What export_onnx refuses, and that a refused export writes nothing."""
from __future__ import annotations

import errno
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest

from hear_byols.errors import ExportVerificationError, InvalidOptionError, StorageError, UsageError
from hear_byols.export import export_onnx
from hear_byols.export.output import write_graph_and_sidecar
from hear_byols.export.verify import CheckCase, relative_error, verify


def test_frozen_time_axis_is_caught_and_named(tmp_path, checkpoints) -> None:
    """A graph exported at one shape (every axis frozen at the 1 s, batch 2 example) passes there
    and fails everywhere else: verification names each failing shape and nothing is written."""
    out = tmp_path / "frozen.onnx"
    with pytest.raises(ExportVerificationError) as caught:
        export_onnx("clstm", out, weights=str(checkpoints("clstm")), normalization=[-4.0, 4.0], frontend="exclude",
                    check_seconds=("min", 1.0, 1.5), _dynamic=False)
    message = str(caught.value)
    assert "failed verification at 5 of 6 shapes" in message
    for failing in ("min (1440 samples), batch 1 [1, 64, 10]", "1 s, batch 1 [1, 64, 101]", "1.5 s, batch 2 [2, 64, 151]"):
        assert failing in message
    assert "1 s, batch 2 [2, 64, 101]" not in message and "frozen" in message
    assert list(tmp_path.iterdir()) == []


def test_an_error_above_the_tolerance_is_refused_naming_the_shape() -> None:
    expected = np.array([[1.0, -2.0, 4.0]], dtype=np.float32)
    case = CheckCase("1 s, batch 1", np.zeros((1, 16000), np.float32), expected, expected)
    assert verify(lambda _: expected * (1 + 5e-6), [case])[0].max_relative_error == pytest.approx(5e-6, rel=1e-2)
    with pytest.raises(ExportVerificationError, match=r"1 s, batch 1 \[1, 16000\]: relative error 2e-05 > 1e-05"):
        verify(lambda _: expected + np.float32(8e-5), [case])


def test_relative_error_is_relative_to_the_largest_value() -> None:
    expected = np.array([[0.0, 1e-9, 10.0]])
    assert relative_error(expected + [[1e-6, 1e-6, 0.0]], expected) == pytest.approx(1e-7)
    assert relative_error(np.array([[np.nan, 0, 10.0]]), expected) == math.inf
    assert relative_error(np.zeros((2, 3)), expected) == math.inf


def test_reference_normalization_is_refused_naming_the_alternatives(tmp_path) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        export_onnx("default512", tmp_path / "m.onnx", normalization="reference")
    assert all(word in str(caught.value) for word in ("per_clip", "[mean, std]", "hear-byols stats", "batch"))


@pytest.mark.parametrize("options, message", [
    ({"normalization": [0.0, -1.0]}, "std > 0"),
    ({"normalization": [math.nan, 1.0]}, "finite"),
    ({"frontend": "both"}, "choose one of ['include', 'exclude']"),
    ({"layer": "conv9"}, "'conv1' (2048)"),
    ({"opset": "19"}, "expected an integer"),
    ({"opset": 7}, "supports opsets 18 to 23"),
    ({"opset": True}, "expected an integer"),
    ({"check_seconds": (0.01,)}, "shorter than the 1120"),
    ({"check_seconds": (math.nan,)}, "expected a number of seconds"),
    ({"check_seconds": "min"}, "non-empty list"),
    ({"check_batches": (0,)}, "positive integer"),
])
def test_bad_options_are_refused_before_any_export(tmp_path, options, message) -> None:
    with pytest.raises(InvalidOptionError, match=None) as caught:
        export_onnx("default512", tmp_path / "m.onnx", **options)
    assert message in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_variant_lists_the_variants(tmp_path) -> None:
    with pytest.raises(InvalidOptionError, match="available variants: .*clstm.*resnetish34"):
        export_onnx("defualt", tmp_path / "m.onnx")


@pytest.mark.parametrize("where, message", [
    ("missing/m.onnx", "does not exist"), ("", "names no file"), ("folder", "is a directory"),
])
def test_bad_out_paths(tmp_path, where, message) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(UsageError, match=message):
        export_onnx("default512", tmp_path / where if where else Path(where))


def test_full_disk_leaves_neither_file(tmp_path, monkeypatch) -> None:
    """ENOSPC while the sidecar is written (the graph already staged): a StorageError, and
    neither the graph, the sidecar nor a temporary file remains."""
    real = tempfile.NamedTemporaryFile

    class Full:
        def __init__(self, handle):
            self.handle, self.name = handle, handle.name

        def write(self, data):
            if ".m.onnx.json." in self.name:  # the sidecar's temporary: the graph's is already staged
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", lambda **kw: Full(real(**kw)))
    with pytest.raises(StorageError, match="No space left on device.*nothing was written"):
        write_graph_and_sidecar(tmp_path / "m.onnx", b"graph bytes", {"format": "hear_byols.onnx"})
    assert list(tmp_path.iterdir()) == []


def test_a_stats_file_is_recorded_by_its_hash(tmp_path) -> None:
    """``--normalization stats.json`` (parsed by parse_normalization): the sidecar names the file
    and its sha256, so a graph can be traced to the statistics it holds."""
    import hashlib

    from hear_byols.export.output import stats_file_of
    from hear_byols.export.sidecar import normalization_entry
    from hear_byols.logmel.normalization import FIXED, Normalization

    stats = tmp_path / "stats.json"
    stats.write_text('{"mean": -4.1, "std": 4.3}\n')
    assert stats_file_of(str(stats)) == stats and stats_file_of([-4.1, 4.3]) is None
    assert stats_file_of(str(tmp_path / "missing.json")) is None
    entry = normalization_entry(Normalization(FIXED, -4.1, 4.3), stats)
    assert entry["stats_file"] == {"name": "stats.json", "sha256": hashlib.sha256(stats.read_bytes()).hexdigest()}
    assert entry["mean"] == -4.1 and entry["std"] == 4.3


def test_importing_the_export_unit_loads_no_onnx_package() -> None:
    """``hear-byols`` imports the export command's module for every command: onnx, onnxruntime and
    onnxscript (the [export] extra) load only when an export runs."""
    import json
    import subprocess
    import sys

    code = "import json, sys, hear_byols.cli; print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert "hear_byols" in loaded and not {"onnx", "onnxruntime", "onnxscript"} & set(loaded)
