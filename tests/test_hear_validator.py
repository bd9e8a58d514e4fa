"""hear-validator (the HEAR 2021 API checker) passes for every variant."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

VALIDATED = ["default", "resnetish34", "clstm", "cvt"]


@pytest.mark.slow
@pytest.mark.parametrize("variant", VALIDATED)
def test_hear_validator_passes(variant, checkpoint_path):
    validator = shutil.which("hear-validator", path=str(Path(sys.executable).parent))
    assert validator, "hear-validator is not installed: run `make install-eval`"
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [validator, f"hear_byols.{variant}", "-m", str(checkpoint_path(variant)), "-d", "cpu"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    # hear-validator's last line once every check (load, sample rate, sizes, both embeddings) passed
    assert output.rstrip().endswith("Looks good!"), output[-3000:]
    for check in ("Checking get_timestamp_embeddings", "Checking get_scene_embeddings"):
        assert check in output, output[-3000:]
