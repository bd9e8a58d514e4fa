"""Fixtures of the ``hear-byols embed`` tests: no test reads the user's weights cache or
environment, and each module embeds with a deterministic checkpoint of its ``MODEL``."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.weights_server import isolate_weights_env


@pytest.fixture(autouse=True)
def weights_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``tmp_path/cache``, the only weights cache the test sees; the HEAR_BYOLS_* variables cleared."""
    return isolate_weights_env(monkeypatch, tmp_path)


@pytest.fixture(scope="module")
def weights(request: pytest.FixtureRequest, checkpoint_path) -> Path:
    """A deterministic-weights checkpoint of the test module's ``MODEL`` (written once per session)."""
    return checkpoint_path(request.module.MODEL)
