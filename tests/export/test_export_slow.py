"""The full verification (the minimum, 1 s, 10 s and 30 s; batches 1 and 2) of every encoder
family, and the variants whose graphs differ from their family's in more than sizes.

Slow: an export takes 7-70 s and a 30 s check of a CLSTM or a ResNet-ish a minute more on a
shared CPU. Each test prints its export time and its error per shape (``-s`` shows them).
"""
from __future__ import annotations

import time

import onnxruntime
import pytest
from conftest import FAMILIES, SHORT_CHECKS

from hear_byols.api import get_scene_embeddings, load_model
from hear_byols.export import TOLERANCE, export_onnx
from hear_byols.export.cases import check_audio
from hear_byols.export.verify import relative_error

pytestmark = pytest.mark.slow


def _export(tmp_path, variant: str, weights: str, **options):
    started = time.perf_counter()
    report = export_onnx(variant, tmp_path / f"{variant}.onnx", weights=weights, **options)
    print(f"\n{variant} {options}: exported in {report.export_seconds:.1f} s, verified in "
          f"{report.verify_seconds:.1f} s, {time.perf_counter() - started:.1f} s in all\n{report.table()}")
    return report


@pytest.mark.parametrize("variant", FAMILIES.values())
def test_every_family_verifies_up_to_30_s(tmp_path, checkpoints, variant: str) -> None:
    report = _export(tmp_path, variant, str(checkpoints(variant)))
    shapes = [check.shape for check in report.checks]
    assert (2, 480_000) in shapes and (1, report.sidecar["min_samples"]) in shapes
    assert report.max_relative_error <= TOLERANCE
    # and at a shape no check used: 2.5 s, off the hop grid, batch 3
    model = load_model(str(checkpoints(variant)), variant=variant, normalization="per_clip")
    audio = check_audio(3, 40_003, 16000)
    session = onnxruntime.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    got = session.run(["embedding"], {"audio": audio.numpy()})[0]
    assert relative_error(got, get_scene_embeddings(audio, model).numpy()) <= TOLERANCE


# byola: the 1024-sample window and a width read from its checkpoint; cvt_byols: mean pooling
@pytest.mark.parametrize("variant", ["byola", "cvt_byols"])
def test_variants_that_differ_from_their_family(tmp_path, checkpoints, variant: str) -> None:
    assert _export(tmp_path, variant, str(checkpoints(variant)), check_seconds=SHORT_CHECKS).max_relative_error <= TOLERANCE


def test_clstm_without_frontend_keeps_its_time_axis(tmp_path, checkpoints) -> None:
    """The family whose dynamo export once froze at 101 columns, with a log-mel input of any
    number of frames: 10 (its minimum) to 3001 (30 s)."""
    report = _export(tmp_path, "clstm", str(checkpoints("clstm")), frontend="exclude", normalization=[-4.0, 4.0])
    assert [check.shape[2] for check in report.checks] == [10, 10, 101, 101, 1001, 1001, 3001, 3001]
    assert report.sidecar["inputs"][0]["shape"] == ["batch", 64, "frames"]


def test_an_explicit_opset(tmp_path) -> None:
    report = _export(tmp_path, "default512", "", opset=18, check_seconds=SHORT_CHECKS)
    assert report.opset == report.sidecar["opset"] == 18
