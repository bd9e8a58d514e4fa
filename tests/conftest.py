"""Fixtures of every area: devices, the launcher-free environment, thread count, the fixture
clips and deterministic test checkpoints. Plain constants and functions live in ``helpers/``."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from hear_byols.testing import write_deterministic_checkpoint
from helpers.devices import DEVICES
from helpers.fixture_files import FIXTURES
from helpers.variants import CHECKPOINT_PARAMS


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each test that takes it runs on the CPU, and on CUDA when there is a GPU."""
    return torch.device(request.param)


#: Variables by which torchrun and SLURM arrays tell a process its shard (hear_byols.distributed,
#: evaluation.shards): a suite run inside such a job must not shard its own test runs.
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT",
                      "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_MAX", "SLURM_ARRAY_TASK_STEP")


@pytest.fixture(scope="session", autouse=True)
def _outside_any_launcher() -> None:
    for name in LAUNCHER_VARIABLES:
        os.environ.pop(name, None)


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
    """``checkpoint_path(name)``: a deterministic-weights checkpoint file of a variant (or of a
    ``CHECKPOINT_PARAMS`` entry), written once."""

    def make(name: str) -> Path:
        path = checkpoint_dir / f"{name}.pth"
        if not path.exists():
            variant, params = CHECKPOINT_PARAMS.get(name, (name, None))
            write_deterministic_checkpoint(variant, path, params)
        return path

    return make


@pytest.fixture(scope="session")
def frontend():
    """The BYOL-S frontend (win_length 400)."""
    from hear_byols.logmel.frontend import LogMelFrontend
    from hear_byols.variants import variant_spec

    return LogMelFrontend(variant_spec("default").frontend)


@pytest.fixture(scope="session")
def real_default512() -> Path:
    """SERAB's real d=512 BYOL-S checkpoint, shipped in the repository's checkpoints/."""
    from hear_byols.variants import variant_spec
    from hear_byols.weights import package_checkpoints_dir

    return package_checkpoints_dir() / variant_spec("default512").weight_files[0].filename
