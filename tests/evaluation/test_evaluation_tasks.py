"""The small HEAR tasks: heareval's folder format, 16 kHz audio, labels, determinism."""
from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from evaluation import tasks
from evaluation.task_check import check_task_folder

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing: make system-deps")


@pytest.fixture(scope="module")
def task_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("tasks")
    tasks.generate_tasks(root, seed=0, log=lambda _: None)
    return root


def test_three_tasks_one_per_output_shape(task_root):
    kinds = {}
    for folder in sorted(task_root.iterdir()):
        meta = json.loads((folder / "task_metadata.json").read_text())
        kinds[folder.name] = (meta["embedding_type"], meta["split_mode"])
        assert meta["task_name"] == folder.name
        assert meta["evaluation"] and meta["prediction_type"] in {"multiclass", "multilabel"}
    assert kinds == {
        "spoken_words": ("scene", "trainvaltest"),
        "tone_word_events": ("event", "trainvaltest"),
        "spoken_language_5fold": ("scene", "new_split_kfold"),
    }


@pytest.mark.parametrize("name", ["spoken_words", "tone_word_events", "spoken_language_5fold"])
def test_heareval_folder_format(task_root, name):
    folder = task_root / name
    meta = json.loads((folder / "task_metadata.json").read_text())
    vocabulary = (folder / "labelvocabulary.csv").read_text().splitlines()
    assert vocabulary[0] == "idx,label"
    labels_in_vocabulary = {line.split(",")[1] for line in vocabulary[1:]}
    for split in meta["splits"]:
        labels = json.loads((folder / f"{split}.json").read_text())
        wavs = sorted(path.name for path in (folder / "16000" / split).glob("*.wav"))
        assert wavs == sorted(labels)
        for wav in wavs[:3]:
            info = sf.info(str(folder / "16000" / split / wav))
            assert (info.samplerate, info.channels) == (16000, 1)
            assert info.frames == int(meta["sample_duration"] * 16000)
        for clip_labels in labels.values():
            if meta["embedding_type"] == "scene":
                assert len(clip_labels) == 1 and clip_labels[0] in labels_in_vocabulary
            else:
                assert clip_labels, "every event clip holds at least one event"
                for event in clip_labels:
                    assert event["label"] in labels_in_vocabulary
                    assert 0 <= event["start"] < event["end"] <= meta["sample_duration"] * 1000
    check_task_folder(folder)  # the harness's check passes what heareval reads


def test_kfold_task_has_five_stratified_folds(task_root):
    folder = task_root / "spoken_language_5fold"
    meta = json.loads((folder / "task_metadata.json").read_text())
    assert meta["nfolds"] == 5 and meta["splits"] == [f"fold{k:02d}" for k in range(5)]
    for fold in meta["splits"]:
        labels = [value[0] for value in json.loads((folder / f"{fold}.json").read_text()).values()]
        assert sorted(set(labels)) == ["english", "german", "spanish"]
        assert len(set(labels.count(label) for label in set(labels))) == 1


def test_same_seed_same_audio_other_seed_other_audio():
    first = tasks.tone_word_events(np.random.default_rng([0, 1]))  # beeps and speech
    again = tasks.tone_word_events(np.random.default_rng([0, 1]))
    other = tasks.tone_word_events(np.random.default_rng([1, 1]))

    def digest(task):
        return hashlib.sha256(b"".join(
            name.encode() + audio.tobytes() + json.dumps(labels).encode()
            for split in task.splits.values() for name, (audio, labels) in split.items()
        )).hexdigest()

    assert digest(first) == digest(again)
    assert digest(first) != digest(other)


def test_generated_tasks_are_kept_on_a_second_call(task_root):
    messages = []
    before = (task_root / "spoken_words" / "train.json").stat().st_mtime_ns
    tasks.generate_tasks(task_root, seed=0, log=messages.append)
    assert all("already generated" in message for message in messages) and len(messages) == 3
    assert (task_root / "spoken_words" / "train.json").stat().st_mtime_ns == before


def test_scene_tasks_give_heareval_a_probe_budget_it_understands(task_root):
    """The override must use heareval's own grid keys, or heareval would carry a dead entry and
    probe with 10 optimiser steps again (the grids' 10 epochs are 10 batches on these tasks)."""
    from heareval.predictions.task_predictions import PARAM_GRID

    for name in ("spoken_words", "spoken_language_5fold"):
        meta = json.loads((task_root / name / "task_metadata.json").read_text())
        grid = meta["evaluation_params"]["task_specific_param_grid"]
        assert grid == tasks.SCENE_PROBE_GRID and set(grid) <= set(PARAM_GRID)
