"""hear-validator (the HEAR 2021 API checker) passes for every variant."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.variants import ALL_VARIANTS


@pytest.mark.slow
@pytest.mark.parametrize("variant", ALL_VARIANTS)
def test_hear_validator_passes(variant, checkpoint_path, device):
    """``-d cpu`` with the GPU hidden; ``-d cuda`` where there is a GPU."""
    validator = shutil.which("hear-validator", path=str(Path(sys.executable).parent))
    assert validator, "hear-validator is not installed: run `make install-eval`"
    hide_gpu = {"CUDA_VISIBLE_DEVICES": ""} if device.type == "cpu" else {}
    env = {**os.environ, **hide_gpu, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [validator, f"hear_byols.{variant}", "-m", str(checkpoint_path(variant)), "-d", device.type],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # hear-validator's verdict once every check (load, sample rate, sizes, both embeddings) passed:
    # judged on its own stdout, because TensorFlow may print start-up lines (oneDNN on AVX-512
    # hosts) on stderr after it, before absl logging can silence them
    assert result.stdout.rstrip().splitlines()[-1] == "Looks good!", output[-3000:]
    for check in ("Checking get_timestamp_embeddings", "Checking get_scene_embeddings"):
        assert check in result.stdout, output[-3000:]
