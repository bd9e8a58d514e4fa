"""Shared fixtures: the golden data of the original implementation and test checkpoints."""
from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS_DIR = Path(__file__).parent
FIXTURES = TESTS_DIR / "fixtures"
sys.path.insert(0, str(TESTS_DIR))

from hear_byols.testing import write_deterministic_checkpoint  # noqa: E402
from hear_byols.variants import variant_names  # noqa: E402

#: Every variant, from the configs: tests parametrised over it cover a new variant on its own.
ALL_VARIANTS = tuple(variant_names())
#: Test checkpoints other than a variant's own config: ``name -> (variant, encoder params)``.
CHECKPOINT_PARAMS = {"byola_d512": ("byola", {"n_mels": 64, "d": 512}), "byola_d2048": ("byola", None)}


#: ``HEAR_BYOLS_TEST_DEVICE=cuda`` makes the CUDA variants of the tests run (and fail) even where
#: torch sees no GPU; without it they run wherever torch sees one and skip elsewhere.
CUDA_REQUESTED = os.environ.get("HEAR_BYOLS_TEST_DEVICE", "") == "cuda"
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not (torch.cuda.is_available() or CUDA_REQUESTED), reason="no CUDA device (HEAR_BYOLS_TEST_DEVICE=cuda forces it)"
        ),
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each test that takes it runs on the CPU, and on CUDA when there is a GPU."""
    return torch.device(request.param)


def on_device(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A copy of a shared (module-scoped) model on ``device``; the CPU original is returned as is."""
    return module if device.type == "cpu" else copy.deepcopy(module).to(device)


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


def golden(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "golden" / f"{name}.npz") as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def frontend():
    """The BYOL-S frontend (win_length 400)."""
    from hear_byols.frontend import LogMelFrontend
    from hear_byols.variants import variant_spec

    return LogMelFrontend(variant_spec("default").frontend)


@pytest.fixture(scope="session")
def real_default512() -> Path:
    """SERAB's real d=512 BYOL-S checkpoint, shipped in the repository's checkpoints/."""
    from hear_byols.variants import variant_spec
    from hear_byols.weights import package_checkpoints_dir

    return package_checkpoints_dir() / variant_spec("default512").weight_files[0].filename
