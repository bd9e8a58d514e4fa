"""Fixtures of the probe tests: no test reads the user's weights cache; corpora are made per test."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.weights_server import isolate_weights_env


@pytest.fixture(autouse=True)
def weights_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_weights_env(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def weights(checkpoint_path) -> Path:
    """Deterministic default512 weights (hear_byols.testing), never a download."""
    return checkpoint_path("default512")
