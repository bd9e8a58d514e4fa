"""The linear probe behind `make pretrain-probe`: it must tell a useful representation from a
collapsed one, read HEAR scene tasks faithfully, and run end to end on an exported encoder."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from evaluation.__main__ import parse_args
from evaluation.harnesses.pretrain_probe import probe_accuracy, read_scene_task
from evaluation.tasks import SAMPLE_RATE, Task, metadata, scene_task, write_task


def clustered(classes: int, per_class: int, separation: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(0.0, separation, (classes, 32))
    labels = np.repeat([f"c{k}" for k in range(classes)], per_class)
    embeddings = np.concatenate([centre + rng.normal(0.0, 1.0, (per_class, 32)) for centre in centres])
    return embeddings, labels


def test_probe_separates_useful_from_collapsed_embeddings() -> None:
    rng = np.random.default_rng(0)
    embeddings, labels = clustered(4, 30, 3.0, rng)
    assert np.mean(probe_accuracy(embeddings, labels)) > 0.95
    assert np.mean(probe_accuracy(embeddings, labels, few_shot=True)) > 0.9
    collapsed = np.ones_like(embeddings) + 1e-9 * rng.normal(size=embeddings.shape)
    assert np.mean(probe_accuracy(collapsed, labels)) < 0.25 + 0.15  # chance is 0.25


def main(argv: list[str]) -> int:
    """``python -m evaluation pretrain-probe ARGV`` in this process, errors raised as they come."""
    args = parse_args(["pretrain-probe", *argv])
    return args.run(args)


def tone_task(folder: Path, per_class: int = 15) -> Path:
    """Two classes of 1 s clips: a low (200 Hz) or a high (2 kHz) tone in noise."""
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    clips = [((0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.normal(size=t.size)).astype(np.float32), label)
             for f, label in ((200.0, "low"), (2000.0, "high")) for _ in range(per_class)]
    meta = metadata("tones", "scene", "multiclass", "trainvaltest", ["train", "valid", "test"], 1.0, ["top1_acc"])
    write_task(scene_task(meta, clips, ["train"] * 3 + ["valid", "test"], rng), folder / "tones")
    return folder


def test_read_scene_task_pools_every_split(tmp_path: Path) -> None:
    task = read_scene_task(tone_task(tmp_path) / "tones")
    assert task.audio.shape == (30, SAMPLE_RATE) and task.audio.dtype == np.float32
    assert sorted(set(task.labels)) == ["high", "low"] and task.chance == pytest.approx(0.5)


def test_read_scene_task_refuses_multilabel_clips(tmp_path: Path) -> None:
    meta = metadata("multi", "scene", "multilabel", "trainvaltest", ["train"], 0.5, ["mAP"])
    write_task(Task(meta, {"train": {"a.wav": (np.zeros(8000, np.float32), ["x", "y"])}}), tmp_path / "multi")
    with pytest.raises(ValueError, match="exactly one"):
        read_scene_task(tmp_path / "multi")


def test_probe_end_to_end_on_untrained_encoder(tmp_path: Path) -> None:
    tasks = tone_task(tmp_path / "tasks")
    assert main(["random0=random:0", "--tasks-dir", str(tasks), "--tasks", "tones", "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "probe.csv", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert row["encoder"] == "random0" and float(row["chance"]) == pytest.approx(0.5)
    assert float(row["accuracy"]) > 0.9  # two tones an octave apart: any non-collapsed encoder separates them
    assert (tmp_path / "out" / "random0.tones.npy").is_file()


def test_probe_refuses_too_few_clips_per_class() -> None:
    embeddings, labels = clustered(2, 10, 3.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="needs 15 per class"):
        probe_accuracy(embeddings, labels)


def test_probe_names_a_missing_weight_file(tmp_path: Path) -> None:
    tasks = tone_task(tmp_path / "tasks")
    with pytest.raises(FileNotFoundError, match="no such weight file"):
        main(["x=/nonexistent/encoder.pth", "--tasks-dir", str(tasks), "--tasks", "tones", "--out", str(tmp_path / "o")])
