"""Where the checked-in fixture files are (tests/fixtures/README.md gives their provenance)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

TESTS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"


def golden(name: str) -> dict[str, np.ndarray]:
    """The arrays of ``fixtures/golden/<name>.npz``: outputs of the original implementation."""
    with np.load(FIXTURES / "golden" / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}
