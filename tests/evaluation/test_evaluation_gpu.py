"""On a GPU host heareval's embedding steps cannot fail because TensorFlow lacks the GPU."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from evaluation import engine, gpu
from evaluation.harnesses import heareval
from evaluation.weights import OFFICIAL_DEFAULT


def test_cpu_host_changes_nothing_and_never_imports_tensorflow():
    policy = gpu.decide(False, lambda: pytest.fail("TensorFlow asked on a CPU host"))
    assert policy == gpu.GpuPolicy()


def test_gpu_with_cpu_tensorflow_hides_the_gpu_from_the_embedding_steps_and_says_how_to_fix_it():
    policy = gpu.decide(True, lambda: 0)
    assert policy.embeddings_env == {"CUDA_VISIBLE_DEVICES": ""}
    assert "TF=gpu" in policy.message and "tensorflow-cpu" in policy.message


def test_gpu_with_gpu_tensorflow_keeps_it_and_lets_torch_have_the_memory():
    policy = gpu.decide(True, lambda: 1)
    assert policy.embeddings_env == {"TF_FORCE_GPU_ALLOW_GROWTH": "true"}
    assert "GPU" in policy.message


@pytest.mark.parametrize(("tf_gpus", "hidden"), [(0, True), (2, False)])
def test_run_passes_the_policy_to_the_embedding_steps_only(tmp_path: Path, monkeypatch, tf_gpus, hidden):
    """A faked GPU host (torch sees a GPU; TensorFlow sees ``tf_gpus``) through ``engine.run``."""
    (tmp_path / "tasks" / "t").mkdir(parents=True)
    (tmp_path / "tasks" / "t" / "task_metadata.json").write_text(json.dumps({"task_name": "t"}))
    monkeypatch.setattr(heareval, "check_task_folder", lambda folder: None)  # not a real task: no step runs
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(gpu, "tensorflow_gpu_count", lambda: tf_gpus)
    monkeypatch.setattr(gpu, "device_count", lambda: 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    steps = []

    def run_step(folder, step, slot_env, log, children):
        steps.append((step.name, {**slot_env, **step.env}.get("CUDA_VISIBLE_DEVICES"), step.env or None))
        return {"module": step.module, "task": step.task, "step": step.name, "status": "done"}

    monkeypatch.setattr(engine, "run_step", run_step)
    messages = []
    config = heareval.RunConfig(tmp_path / "tasks", tmp_path / "out", {}, "faster")
    engine.run(heareval, config, {"hear_byols.cvt": OFFICIAL_DEFAULT}, log=messages.append)
    placed = {name: (device, env) for name, device, env in steps}
    assert placed["embeddings"] == (
        ("", {"CUDA_VISIBLE_DEVICES": ""}) if hidden else ("0", {"TF_FORCE_GPU_ALLOW_GROWTH": "true"})
    )
    assert placed["predictions"] == ("0", None)  # the job slot's GPU
    assert any("GPU" in message for message in messages)


def test_tensorflow_probe_reads_the_installed_tensorflow():
    """The real probe on this host: a count, 0 for tensorflow-cpu."""
    count = gpu.tensorflow_gpu_count()
    assert isinstance(count, int) and count >= 0
    if not torch.cuda.is_available():
        assert count == 0
