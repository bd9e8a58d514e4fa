"""A graph file that is truncated, damaged, or of another variant than expected is refused, named."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from hear_byols.errors import CheckpointError, ChecksumError, WrongVariantError
from hear_byols.onnx_runtime import OnnxEncoder
from hear_byols.onnx_runtime.sidecar import file_sha256


def copy_graph(graph: Path, folder: Path) -> Path:
    target = folder / graph.name
    shutil.copy(graph, target)
    shutil.copy(f"{graph}.json", f"{target}.json")
    return target


def test_truncated_graph_names_both_hashes(graph, tmp_path: Path) -> None:
    path = copy_graph(graph("default"), tmp_path)
    recorded = json.loads(Path(f"{path}.json").read_text())["graph"]["sha256"]
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ChecksumError) as refused:
        OnnxEncoder(path)
    assert recorded in str(refused.value) and file_sha256(path) in str(refused.value)


def test_other_variant_names_both(graph) -> None:
    with pytest.raises(WrongVariantError, match="'default'.*'cvt'"):
        OnnxEncoder(graph("default"), variant="cvt")


def test_sidecar_of_another_graph(graph, tmp_path: Path) -> None:
    path = copy_graph(graph("default"), tmp_path)
    shutil.copy(f"{graph('cvt')}.json", f"{path}.json")
    with pytest.raises(ChecksumError, match="differs"):
        OnnxEncoder(path, variant="cvt")


@pytest.mark.parametrize("damage", ["missing", "garbage", "incomplete"])
def test_bad_sidecar(graph, tmp_path: Path, damage: str) -> None:
    path = copy_graph(graph("default"), tmp_path)
    sidecar = Path(f"{path}.json")
    if damage == "missing":
        sidecar.unlink()
    elif damage == "garbage":
        sidecar.write_text("{not json")
    else:
        content = json.loads(sidecar.read_text())
        del content["embedding_dim"]
        sidecar.write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match=sidecar.name):
        OnnxEncoder(path)


def test_graph_onnxruntime_cannot_load(graph, tmp_path: Path) -> None:
    """Bytes that are no graph, with a sidecar that records exactly them: onnxruntime's refusal, named."""
    path = copy_graph(graph("default"), tmp_path)
    path.write_bytes(b"not an onnx graph")
    sidecar = Path(f"{path}.json")
    content = json.loads(sidecar.read_text())
    content["graph"]["sha256"] = file_sha256(path)
    sidecar.write_text(json.dumps(content))
    with pytest.raises(CheckpointError, match="onnxruntime cannot load"):
        OnnxEncoder(path)


def test_missing_graph(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such ONNX graph"):
        OnnxEncoder(tmp_path / "nothing.onnx")
