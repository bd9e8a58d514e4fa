"""Small, deterministic HEAR-format tasks so the whole heareval loop runs offline in minutes.

Three tasks, 16 kHz, one per shape of output the report has to read:
* ``spoken_words``    scene, train/valid/test: which of Speech Commands' ten keywords espeak-ng
  speaks, with random English voices, speeds, pitches, gains, offsets and background noise;
* ``tone_word_events`` event, train/valid/test: onsets/offsets of beeps and spoken words
  placed at random times in 3 s clips (scored with event_onset_200ms_fms like DCASE 2016);
* ``spoken_language_5fold`` scene, 5 folds: which language (English/German/Spanish) a speaker
  says two numbers in, scored by heareval's k-fold cross-validation (3 x 80 clips). Measured
  scores, and how far they tell a trained model from untrained ones: docs/EVALUATION.md, Demo.
Everything is drawn from ``numpy.random.default_rng([seed, task index])``; the folder format is
the one heareval reads (see docs/EVALUATION.md).
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from evaluation.speech_synthesis import SAMPLE_RATE, synthesize

#: Bump when the generated audio or labels change, so old task folders are regenerated.
GENERATOR_VERSION = "3"
MARKER = "generation.json"

ENGLISH_VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029")
VOICE_VARIANTS = ("", "+m1", "+m3", "+f2", "+f4")
#: Speech Commands' ten keywords.
WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
#: Language -> espeak-ng voice; each reads digits in its own language.
LANGUAGES = {"english": "en-us", "german": "de", "spanish": "es"}
DIGITS = tuple("123456789")
#: Clips per class: spoken_words 10 x 30 (60 test clips), spoken_language_5fold 3 x 80.
CLIPS_PER_WORD = 30
CLIPS_PER_LANGUAGE = 80
#: heareval's probe budget for the scene tasks (``evaluation_params.task_specific_param_grid``, the
#: field HEAR's own secret tasks used). The grids' 10 epochs are 10 optimiser steps here: each
#: training split fits in one batch of 1024. Such an underfit probe ranks embeddings by how fast
#: 10 Adam steps move on them, not by what they encode (measured on the v2 tasks: real d=512
#: 0.600 vs untrained 0.646 on language ID). 100 epochs with early stopping let it converge:
#: 0.921 vs 0.838, the real model ahead on every fold (docs/EVALUATION.md, Demo).
SCENE_PROBE_GRID = {"max_epochs": [100], "patience": [10], "check_val_every_n_epoch": [2]}


@dataclass
class Task:
    """One task in memory: its metadata and, per split, ``{file name: (audio, labels)}``."""

    metadata: dict[str, Any]
    splits: dict[str, dict[str, tuple[np.ndarray, list[Any]]]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.metadata["task_name"]

    def vocabulary(self) -> list[str]:
        labels = {
            label if isinstance(label, str) else label["label"]
            for split in self.splits.values()
            for _, labels in split.values()
            for label in labels
        }
        return sorted(labels)


def metadata(
    name: str,
    embedding_type: str,
    prediction_type: str,
    split_mode: str,
    splits: list[str],
    sample_duration: float,
    evaluation: list[str],
    probe_grid: dict[str, list[Any]] | None = None,
) -> dict[str, Any]:
    """task_metadata.json as heareval reads it (the first ``evaluation`` metric is the score;
    ``probe_grid`` overrides entries of whichever heareval grid runs)."""
    meta: dict[str, Any] = {
        "task_name": name,
        "version": f"hear_byols-small-v{GENERATOR_VERSION}",
        "embedding_type": embedding_type,
        "prediction_type": prediction_type,
        "split_mode": split_mode,
        "sample_duration": sample_duration,
        "evaluation": evaluation,
        "splits": splits,
    }
    if split_mode.endswith("kfold"):
        meta["nfolds"] = len(splits)
    if probe_grid:
        meta["evaluation_params"] = {"task_specific_param_grid": probe_grid}
    return meta


def random_speaker(rng: np.random.Generator, languages: tuple[str, ...] = ENGLISH_VOICES) -> dict[str, Any]:
    """A random espeak-ng voice (language + variant), speed and pitch."""
    return {
        "voice": str(rng.choice(languages)) + str(rng.choice(VOICE_VARIANTS)),
        "speed": int(rng.integers(120, 200)),
        "pitch": int(rng.integers(25, 75)),
    }


def place(audio: np.ndarray, length: int, start: int, rng: np.random.Generator) -> np.ndarray:
    """``audio`` at a random gain from sample ``start`` of a clip of ``length`` samples with noise."""
    clip = rng.normal(0.0, rng.uniform(0.002, 0.01), length).astype(np.float32)
    piece = audio[: length - start] * (rng.uniform(0.3, 0.9) / max(float(np.abs(audio).max()), 1e-6))
    clip[start : start + piece.size] += piece
    return np.clip(clip, -1.0, 1.0)


def tone(rng: np.random.Generator) -> np.ndarray:
    """A 0.25-0.6 s sine beep (400-1600 Hz) with 10 ms fades."""
    n = int(rng.uniform(0.25, 0.6) * SAMPLE_RATE)
    beep = np.sin(2 * np.pi * rng.uniform(400, 1600) * np.arange(n) / SAMPLE_RATE)
    fade = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.01 * SAMPLE_RATE))
    return (0.5 * beep * fade).astype(np.float32)


def scene_clip(audio: np.ndarray, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """``audio`` (cut to the clip) at a random offset in a clip of ``seconds``."""
    length = int(seconds * SAMPLE_RATE)
    start = int(rng.integers(0, max(1, length - audio.size)))
    return place(audio, length, start, rng)


def stratified_splits(
    labels: list[str], names: list[str], rng: np.random.Generator
) -> list[list[int]]:
    """Clip indices per split, each class shared out in the proportions of ``names``' counts
    (``names`` lists a split once per share, e.g. 3x train, 1x valid, 1x test)."""
    out: list[list[int]] = [[] for _ in set(names)]
    order = list(dict.fromkeys(names))
    for label in sorted(set(labels)):
        members = [i for i, item in enumerate(labels) if item == label]
        rng.shuffle(members)
        for k, index in enumerate(members):
            out[order.index(names[k * len(names) // len(members)])].append(index)
    return out


def scene_task(
    meta: dict[str, Any],
    clips: list[tuple[np.ndarray, str]],
    shares: list[str],
    rng: np.random.Generator,
) -> Task:
    """Stratified split of labelled scene clips into ``meta['splits']``."""
    labels = [label for _, label in clips]
    task = Task(meta)
    for split, indices in zip(dict.fromkeys(shares), stratified_splits(labels, shares, rng)):
        task.splits[split] = {
            f"{meta['task_name']}_{i:04d}.wav": (clips[i][0], [clips[i][1]]) for i in sorted(indices)
        }
    return task


def spoken_words(rng: np.random.Generator) -> Task:
    clips = []
    for word in WORDS:
        for _ in range(CLIPS_PER_WORD):
            clips.append((scene_clip(synthesize(word, **random_speaker(rng)), 1.5, rng), word))
    meta = metadata(
        "spoken_words", "scene", "multiclass", "trainvaltest", ["train", "valid", "test"], 1.5,
        ["top1_acc", "mAP"], SCENE_PROBE_GRID,
    )
    return scene_task(meta, clips, ["train"] * 3 + ["valid", "test"], rng)


def spoken_language_5fold(rng: np.random.Generator) -> Task:
    clips = []
    for language, voice in LANGUAGES.items():
        for _ in range(CLIPS_PER_LANGUAGE):
            text = " ".join(rng.choice(DIGITS, size=2))
            audio = synthesize(text, **random_speaker(rng, (voice,)))
            clips.append((scene_clip(audio, 2.0, rng), language))
    folds = [f"fold{k:02d}" for k in range(5)]
    meta = metadata(
        "spoken_language_5fold", "scene", "multiclass", "new_split_kfold", folds, 2.0,
        ["top1_acc", "mAP"], SCENE_PROBE_GRID,
    )
    return scene_task(meta, clips, folds, rng)


def event_clip(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Beeps and spoken words one after the other at random gaps, with their times in ms."""
    length = int(seconds * SAMPLE_RATE)
    clip = np.zeros(length, dtype=np.float32)
    events = []
    cursor = int(rng.uniform(0.1, 0.6) * SAMPLE_RATE)
    while True:
        label = str(rng.choice(["tone", "speech"]))
        audio = tone(rng) if label == "tone" else synthesize(str(rng.choice(WORDS)), **random_speaker(rng))
        if cursor + audio.size > length - int(0.1 * SAMPLE_RATE):
            break
        clip += place(audio, length, cursor, rng)
        events.append({"label": label, "start": 1000.0 * cursor / SAMPLE_RATE,
                       "end": 1000.0 * (cursor + audio.size) / SAMPLE_RATE})
        cursor += audio.size + int(rng.uniform(0.2, 0.8) * SAMPLE_RATE)
    return np.clip(clip, -1.0, 1.0), events


def tone_word_events(rng: np.random.Generator) -> Task:
    meta = metadata(
        "tone_word_events", "event", "multilabel", "trainvaltest", ["train", "valid", "test"], 3.0,
        ["event_onset_200ms_fms", "segment_1s_er"],
    )
    task = Task(meta)
    # timestamp embeddings cost ~1 s of CPU per second of audio: keep this task to 72 s
    for split, count in (("train", 14), ("valid", 5), ("test", 5)):
        task.splits[split] = {}
        for i in range(count):
            task.splits[split][f"tone_word_events_{split}_{i:03d}.wav"] = event_clip(rng, 3.0)
    return task


#: The task builders, in a fixed order: the index seeds each task's random stream.
BUILDERS: tuple[Callable[[np.random.Generator], Task], ...] = (
    spoken_words,
    tone_word_events,
    spoken_language_5fold,
)


def write_task(task: Task, folder: Path) -> None:
    """The HEAR folder layout: metadata, label vocabulary, ``<split>.json`` and 16 kHz WAVs."""
    folder.mkdir(parents=True)
    (folder / "task_metadata.json").write_text(json.dumps(task.metadata, indent=2))
    vocabulary = "".join(f"{i},{label}\n" for i, label in enumerate(task.vocabulary()))
    (folder / "labelvocabulary.csv").write_text("idx,label\n" + vocabulary)
    for split, clips in task.splits.items():
        audio_dir = folder / str(SAMPLE_RATE) / split
        audio_dir.mkdir(parents=True)
        for name, (audio, _) in clips.items():
            sf.write(str(audio_dir / name), audio, SAMPLE_RATE, subtype="PCM_16")
        labels = {name: labels for name, (_, labels) in clips.items()}
        (folder / f"{split}.json").write_text(json.dumps(labels, indent=1))


def generate_tasks(out_dir: str | Path, seed: int = 0, log: Callable[[str], None] = print) -> list[Path]:
    """Write every small task under ``out_dir`` (skipping those already generated with ``seed``)."""
    out_dir = Path(out_dir)
    marker = {"seed": seed, "generator_version": GENERATOR_VERSION}
    folders = []
    for index, build in enumerate(BUILDERS):
        folder = out_dir / build.__name__
        folders.append(folder)
        marker_path = folder / MARKER
        if marker_path.is_file() and json.loads(marker_path.read_text()) == marker:
            log(f"task {folder.name}: already generated (seed {seed}), kept")
            continue
        task = build(np.random.default_rng([seed, index]))
        partial = out_dir / f".{folder.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        write_task(task, partial)
        (partial / MARKER).write_text(json.dumps(marker))
        shutil.rmtree(folder, ignore_errors=True)
        partial.rename(folder)
        counts = ", ".join(f"{split} {len(clips)}" for split, clips in task.splits.items())
        log(f"task {folder.name}: {task.metadata['embedding_type']} task written ({counts} clips)")
    return folders
