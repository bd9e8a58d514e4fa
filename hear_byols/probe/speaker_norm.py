"""Per-speaker z-scoring of features, SERAB's default before every classifier.

SERAB (``SERAB/utils.py``, ``speaker_normalization``) subtracts each speaker's mean and divides by
each speaker's population standard deviation (numpy's default, ``ddof=0``), a standard deviation of
0 becoming 1. It is applied to train, validation and test each on their own, with every speaker's
own statistics: the test clips are normalised with statistics of the test speakers' clips, labels
unseen. That is transductive: a deployed model meeting one clip of a new speaker has no such
statistics, so scores with it on are the scores of a system that first hears a batch of each
speaker. ``evaluate(..., speaker_norm=False)`` measures without it.
"""
from __future__ import annotations

import numpy as np


def speaker_zscore(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """A new float64 array: every feature z-scored over the rows of each speaker (``ddof=0``).

    A feature constant over a speaker's rows (or a speaker with one row) becomes exactly 0, where
    SERAB's arithmetic leaves the rounding error of the mean (e.g. 1.4e-17 for seven clips of 0.1).
    It is computed in float64: SERAB's float32 result only up to rounding.
    """
    features = np.asarray(features, dtype=np.float64)
    _, index = np.unique(np.asarray(speakers), return_inverse=True)
    normalised = np.empty_like(features)
    for speaker in range(int(index.max(initial=-1)) + 1):
        rows = index == speaker
        block = features[rows]
        centred = block - block.mean(axis=0)
        std = centred.std(axis=0)
        constant = block.max(axis=0) == block.min(axis=0)
        centred[:, constant] = 0.0
        std[constant | (std == 0.0)] = 1.0
        normalised[rows] = centred / std
    return normalised
