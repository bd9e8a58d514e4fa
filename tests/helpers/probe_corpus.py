"""Tiny labelled corpora for the probe: classes that openSMILE and embeddings can tell apart
(different tone frequencies over a noise band), speakers that differ in gain and pitch, written as
a table or in a dataset's native layout."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from helpers.audio import write_audio

RATE = 16000
#: class -> base frequency (Hz): far apart, so the classes are clearly separable
CLASS_FREQ = {"low": 220.0, "mid": 660.0, "high": 1760.0}


def synthetic_clip(label: str, speaker: int, take: int, seconds: float = 0.6) -> np.ndarray:
    """A clip of class ``label`` said by ``speaker``: harmonics of the class frequency, shifted a
    little per speaker, at the speaker's gain, over a little noise (seeded by speaker and take)."""
    rng = np.random.default_rng(1000 * speaker + 17 * take + len(label))
    t = np.arange(int(RATE * seconds)) / RATE
    base = CLASS_FREQ[label] * (1 + 0.03 * (speaker % 5)) * (1 + 0.01 * rng.standard_normal())
    voice = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3))
    envelope = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.05)
    gain = 0.15 + 0.1 * (speaker % 4)
    return (gain * envelope * voice / 2 + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def write_table_corpus(root: Path, speakers: int = 6, takes: int = 3, labels: tuple[str, ...] = tuple(CLASS_FREQ),
                       shuffle_labels: bool = False, seconds: float = 0.6) -> Path:
    """``root/clips/s<k>_<label>_<take>.wav`` and ``root/labels.csv`` (path, label, speaker);
    ``shuffle_labels`` permutes the labels column (a corpus with nothing to learn)."""
    rows = []
    for speaker in range(speakers):
        for label in labels:
            for take in range(takes):
                name = f"clips/s{speaker}_{label}_{take}.wav"
                write_audio(root / name, synthetic_clip(label, speaker, take, seconds), RATE, "PCM_16")
                rows.append([name, label, f"spk{speaker}"])
    if shuffle_labels:
        permuted = np.random.default_rng(0).permutation([row[1] for row in rows])
        rows = [[row[0], str(label), row[2]] for row, label in zip(rows, permuted)]
    table = root / "labels.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(rows)
    return table


#: RAVDESS emotion codes used by the tiny native corpus, with the class each sounds like
RAVDESS_EMOTIONS = {"01": "low", "05": "high"}


def write_ravdess(root: Path, actors: int = 5, takes: int = 2) -> Path:
    """RAVDESS's layout: ``Actor_AA/03-01-EE-01-SS-RR-AA.wav`` (speech, audio-only), emotions
    neutral (01) and angry (05)."""
    for actor in range(1, actors + 1):
        for code, sound in RAVDESS_EMOTIONS.items():
            for take in range(takes):
                statement, repetition = 1 + take % 2, 1 + take // 2
                name = f"Actor_{actor:02d}/03-01-{code}-01-{statement:02d}-{repetition:02d}-{actor:02d}.wav"
                write_audio(root / name, synthetic_clip(sound, actor, take), RATE, "PCM_16")
    return root
