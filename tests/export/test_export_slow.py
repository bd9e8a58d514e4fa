"""The full verification (the minimum, 1 s, 10 s and 30 s; batches 1 and 2) of every variant.

Slow: an export takes 10-25 s of CPU and a 30 s check of a CvT several more. Each test prints
its export time and its worst error per shape (run with ``-s`` to see them).
"""
from __future__ import annotations

import time

import pytest

from hear_byols.export import TOLERANCE, export_onnx
from hear_byols.variants import variant_names

pytestmark = pytest.mark.slow


def _export(tmp_path, variant: str, weights: str, **options):
    started = time.perf_counter()
    report = export_onnx(variant, tmp_path / f"{variant}.onnx", weights=weights, **options)
    print(f"\n{variant} {options}: exported in {report.export_seconds:.1f} s, verified in "
          f"{report.verify_seconds:.1f} s, {time.perf_counter() - started:.1f} s in all\n{report.table()}")
    return report


@pytest.mark.parametrize("variant", variant_names())
def test_every_variant_verifies_up_to_30_s(tmp_path, checkpoints, variant: str) -> None:
    report = _export(tmp_path, variant, str(checkpoints(variant)))
    shapes = [check.shape for check in report.checks]
    assert (2, 480_000) in shapes and (1, report.sidecar["min_samples"]) in shapes
    assert report.max_relative_error <= TOLERANCE


def test_clstm_without_frontend_keeps_its_time_axis(tmp_path, checkpoints) -> None:
    """The family whose dynamo export once froze at 101 columns, with a log-mel input of any
    number of frames: 10 (its minimum) to 3001 (30 s)."""
    report = _export(tmp_path, "clstm", str(checkpoints("clstm")), frontend="exclude", normalization=[-4.0, 4.0])
    assert [check.shape[2] for check in report.checks] == [10, 10, 101, 101, 1001, 1001, 3001, 3001]
    assert report.sidecar["inputs"][0]["shape"] == ["batch", 64, "frames"]


def test_an_explicit_opset(tmp_path) -> None:
    report = _export(tmp_path, "default512", "", opset=18, check_seconds=("min", 1.0))
    assert report.opset == report.sidecar["opset"] == 18
