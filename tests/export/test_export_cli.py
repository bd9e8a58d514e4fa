"""``hear-byols export``: the table of checked shapes, exit statuses, and nothing written on refusal."""
from __future__ import annotations

import json

import pytest

from hear_byols.cli import main


def test_export_prints_the_checks_and_writes_both_files(tmp_path, capsys) -> None:
    out = tmp_path / "d512.onnx"
    status = main(["export", "default512", "--format", "onnx", "--out", str(out), "--normalization=-3.5,3.2",
                   "--layer", "conv3", "--check-seconds", "min,1.25"])
    printed = capsys.readouterr().out
    assert status == 0, printed
    for label in ("min (1120 samples), batch 1", "1.25 s, batch 2", "1.5 s, row 2 silent"):
        assert label in printed
    assert printed.count(" ok") == 5 and f"wrote {out}" in printed
    sidecar = json.loads((tmp_path / "d512.onnx.json").read_text())
    assert sidecar["normalization"]["mean"] == -3.5 and sidecar["layer"]["name"] == "conv3"


@pytest.mark.parametrize("args, message", [
    (["--normalization", "reference"], "hear-byols stats"),
    (["--normalization", "1,nan"], "std > 0"),
    (["--opset", "x"], "--opset: 'x': expected an integer opset"),
    (["--opset", "3"], "supports opsets 18 to 23"),
    (["--check-seconds", "min,0"], "--check-seconds: '0'"),
    (["--frontend", "none"], "invalid choice"),
    (["--format", "tflite"], "invalid choice"),
    (["--layer", "fc9"], "'fc2' (512)"),
])
def test_bad_options_exit_2_before_any_work(tmp_path, capsys, args, message) -> None:
    assert main(["export", "default512", "--out", str(tmp_path / "m.onnx"), *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_variant_and_missing_folder(tmp_path, capsys) -> None:
    assert main(["export", "nope", "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err and "resnetish34" in err
    assert main(["export", "default512", "--out", str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err
