"""The devices a test runs on: the CPU always, CUDA where there is a GPU (or it is demanded)."""
from __future__ import annotations

import copy
import os

import pytest
import torch

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


def on_device(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """A copy of a shared (module-scoped) model on ``device``; the CPU original is returned as is."""
    return module if device.type == "cpu" else copy.deepcopy(module).to(device)
