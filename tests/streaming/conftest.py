"""Fixtures of the streaming tests: models with fixed statistics on deterministic weights."""
from __future__ import annotations

import pytest

#: Fixed log-mel statistics for the tests (any finite mean and positive std stream).
STATS = [-6.0, 3.5]


@pytest.fixture(scope="session")
def fixed_model(checkpoint_path):
    """``fixed_model(variant)``: the variant on deterministic weights with ``STATS``, loaded once."""
    from hear_byols.api import load_model

    models = {}

    def make(variant: str):
        if variant not in models:
            models[variant] = load_model(str(checkpoint_path(variant)), variant=variant, normalization=STATS)
        return models[variant]

    return make


@pytest.fixture(scope="session")
def graph_default(tmp_path_factory: pytest.TempPathFactory, checkpoint_path):
    """An exported graph of default (deterministic weights) with ``STATS``."""
    from helpers.onnx_graphs import session_graph

    return session_graph(tmp_path_factory.getbasetemp() / "graphs", checkpoint_path("default"), "default", STATS)
