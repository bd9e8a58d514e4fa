"""Shared fixtures: the golden data of the original implementation and test checkpoints."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS_DIR = Path(__file__).parent
FIXTURES = TESTS_DIR / "fixtures"
sys.path.insert(0, str(TESTS_DIR))

from weight_rule import write_checkpoint  # noqa: E402

BYOLS_VARIANTS = ("default", "resnetish34", "clstm", "cvt")


@pytest.fixture(scope="session", autouse=True)
def _two_threads() -> None:
    """Two threads, as on CI's 2-core machines: the goldens were made with one thread, and the
    parity tolerances cover the float summation order that a second thread changes."""
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def audio_inputs() -> np.ndarray:
    """The fixtures' 3 clips x 2 s at 16 kHz, float32."""
    return np.load(FIXTURES / "audio_inputs.npz")["audio"]


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("checkpoints")


@pytest.fixture(scope="session")
def checkpoint_path(checkpoint_dir: Path):
    """``checkpoint_path(manifest_name)``: a deterministic-weights checkpoint file, written once."""

    def make(manifest_name: str) -> Path:
        path = checkpoint_dir / f"{manifest_name}.pth"
        if not path.exists():
            write_checkpoint(manifest_name, path)
        return path

    return make


def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "golden" / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def frontend():
    """The BYOL-S frontend (win_length 400)."""
    from hear_byols.frontend import LogMelFrontend
    from hear_byols.variants import variant_spec

    return LogMelFrontend(variant_spec("default").frontend)
