"""Fixtures of the runtime tests: exported graphs of deterministic weights, made once per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.onnx_graphs import session_graph

#: Fixed log-mel statistics of the test graphs.
STATS = [-6.0, 3.5]


@pytest.fixture(scope="session")
def graph(tmp_path_factory: pytest.TempPathFactory, checkpoint_path):
    """``graph(variant, normalization=STATS)``: the path of an exported graph (sidecar beside it)."""
    root = tmp_path_factory.getbasetemp() / "graphs"

    def make(variant: str, normalization=None) -> Path:
        normalization = STATS if normalization is None else normalization
        return session_graph(root, checkpoint_path(variant), variant, normalization)

    return make


@pytest.fixture(scope="session")
def torch_model(checkpoint_path):
    """``torch_model(variant, normalization=STATS)``: the same weights loaded by the torch API."""
    from hear_byols.api import load_model

    def make(variant: str, normalization=None):
        normalization = STATS if normalization is None else normalization
        return load_model(str(checkpoint_path(variant)), variant=variant, normalization=normalization)

    return make
