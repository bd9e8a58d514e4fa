"""What heareval's subprocesses see of the GPU, decided once per run.

heareval's embedding runner refuses to start when torch sees a GPU and TensorFlow does not
("GPUs not available in tensorflow, but found by pytorch"), which is exactly the pinned stack
(tensorflow-cpu) on a GPU host. So: with a GPU TensorFlow (``make install-eval TF=gpu``) the
embedding steps use the GPU, and TensorFlow is told to grow its GPU memory instead of taking
it all from torch; with tensorflow-cpu the embedding steps run with the GPU hidden (CPU
embeddings), and the run says how to get GPU embeddings. Other steps are left alone (the
predictions runner trains its probes with torch, on the GPU when there is one).
"""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Callable

TF_GPU_INSTALL = "make install-eval TF=gpu (tensorflow[and-cuda], see evaluation/requirements-hear.txt)"


@dataclass(frozen=True)
class GpuPolicy:
    """Environment additions for heareval's embedding steps, and what to tell the user."""

    embeddings_env: dict[str, str] = field(default_factory=dict)
    message: str | None = None


def decide(torch_sees_gpu: bool, tensorflow_gpu_count: Callable[[], int]) -> GpuPolicy:
    """The policy for a host; TensorFlow is only asked (slow import) when torch sees a GPU."""
    if not torch_sees_gpu:
        return GpuPolicy()
    if tensorflow_gpu_count() > 0:
        return GpuPolicy(
            {"TF_FORCE_GPU_ALLOW_GROWTH": "true"},
            "GPU: torch and TensorFlow both see it; heareval computes embeddings on the GPU",
        )
    return GpuPolicy(
        {"CUDA_VISIBLE_DEVICES": ""},
        "GPU found by torch but not by TensorFlow (tensorflow-cpu): heareval's embedding runner refuses that "
        "combination, so the embedding steps run on the CPU with the GPU hidden (predictions still use it). "
        f"For GPU embeddings: {TF_GPU_INSTALL}",
    )


def tensorflow_gpu_count() -> int:
    """GPUs TensorFlow sees, asked in a child process (TensorFlow initialises CUDA on import)."""
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines = result.stdout.strip().splitlines()
    return int(lines[-1]) if result.returncode == 0 and lines and lines[-1].isdigit() else 0


def device_count() -> int:
    """GPUs torch sees in this process (those of ``CUDA_VISIBLE_DEVICES`` when it is set)."""
    import torch

    return torch.cuda.device_count()


def detect() -> GpuPolicy:
    """The policy for this host."""
    import torch

    return decide(torch.cuda.is_available(), tensorflow_gpu_count)
