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

from hear_byols.errors import ProbeDataError


def speaker_zscore(features: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """A new float64 array: every feature z-scored over the rows of each speaker (``ddof=0``).

    A feature constant over a speaker's rows (or a speaker with one row) becomes exactly 0, where
    SERAB's arithmetic leaves the rounding error of the mean (e.g. 1.4e-17 for seven clips of 0.1).
    It is computed in float64: SERAB's float32 result only up to rounding.
    """
    features = np.asarray(features, dtype=np.float64)
    if not np.all(np.isfinite(features)):
        raise ProbeDataError(f"{int(np.sum(~np.isfinite(features)))} feature values are NaN or infinite: "
                             "z-scoring would spread them over the speaker's clips; fix those clips first")
    _, index = np.unique(np.asarray(speakers), return_inverse=True)
    normalised = np.empty_like(features)
    with np.errstate(all="ignore"):  # an overflow is refused below, once, by name
        finite = _zscore_rows(features, index, normalised)
    if not (finite and np.all(np.isfinite(normalised))):
        raise ProbeDataError(f"features up to {np.max(np.abs(features)):.3g} overflow float64 when z-scored per "
                             "speaker: rescale them (a model's embeddings are nowhere near that)")
    return normalised


def _zscore_rows(features: np.ndarray, index: np.ndarray, normalised: np.ndarray) -> bool:
    """Fill ``normalised`` speaker by speaker (``index``: each row's speaker number); False when a
    mean or a standard deviation overflowed (an infinite std would turn its feature into zeros)."""
    finite = True
    for speaker in range(int(index.max(initial=-1)) + 1):
        rows = index == speaker
        block = features[rows]
        centred = block - block.mean(axis=0)
        std = centred.std(axis=0)
        constant = block.max(axis=0) == block.min(axis=0)
        centred[:, constant] = 0.0
        std[constant | (std == 0.0)] = 1.0
        normalised[rows] = centred / std
        finite = finite and bool(np.all(np.isfinite(std)))
    return finite
