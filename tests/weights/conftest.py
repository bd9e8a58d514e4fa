"""Fixtures of the weights tests: no test reads the user's weights cache or environment."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers.weights_server import isolate_weights_env


@pytest.fixture(autouse=True)
def weights_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``tmp_path/cache``, the only weights cache the test sees; the HEAR_BYOLS_* variables cleared."""
    return isolate_weights_env(monkeypatch, tmp_path)
