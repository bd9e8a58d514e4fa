"""Synthetic labelled features for the probe's classifier tests: classes, speakers and speaker offsets.

Every speaker has every class the same number of times, so z-scoring per speaker keeps the class
structure; each speaker adds its own large offset, so without that z-scoring a classifier meets test
speakers far from anything it trained on.
"""
from __future__ import annotations

import numpy as np

from hear_byols.probe.classifiers import Split


def speaker_block(rng: np.random.Generator, speakers: range, per_class: int, classes: int, dims: int,
                  margin: float, offset: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels and speaker ids of ``speakers``, each with ``per_class`` clips of every class.

    Class ``c`` sits at ``margin * c`` on the first two dimensions (unit noise everywhere); each speaker
    shifts all its clips by an offset drawn with standard deviation ``offset``.
    """
    labels = np.tile(np.repeat(np.arange(classes), per_class), len(speakers))
    ids = np.repeat(np.array([f"spk{number:03d}" for number in speakers]), classes * per_class)
    x = rng.normal(size=(len(labels), dims))
    x[:, :2] += margin * labels[:, None]
    shifts = rng.normal(scale=offset, size=(len(speakers), dims))
    x += np.repeat(shifts, classes * per_class, axis=0)
    return x, labels, ids


def make_split(seed: int = 0, *, speakers: tuple[int, int, int] = (6, 2, 3), per_class: int = 4,
               classes: int = 4, dims: int = 8, margin: float = 8.0, offset: float = 30.0,
               shuffle_labels: bool = False) -> Split:
    """A Split of disjoint speakers (train, validation, test counts in ``speakers``).

    ``shuffle_labels`` permutes the labels within each split: the features then carry no
    information about them and every family should score near chance.
    """
    rng = np.random.default_rng(seed)
    parts, first = [], 0
    for count in speakers:
        x, y, s = speaker_block(rng, range(first, first + count), per_class, classes, dims, margin, offset)
        parts.extend((x, rng.permutation(y) if shuffle_labels else y, s))
        first += count
    return Split(*parts)
