"""The checks a fold's features, labels and speakers pass before any classifier sees them.

A classifier fed NaN features, a test class it never trained on, or a speaker on both sides of
the split gives a number that looks like a score and is not one; each is refused here with what
is wrong and where: ``SplitError`` for a fold that is not speaker-independent or cannot be trained,
``ProbeDataError`` for features, labels or speakers that are unusable as given.
"""
from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np

from hear_byols.errors import ProbeDataError, SplitError

#: How many offending values a message names before it says "and N more".
SHOWN = 5
SPLITS = ("train", "validation", "test")


def _shown(values: Sequence[object]) -> str:
    more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
    return ", ".join(repr(value.item() if isinstance(value, np.generic) else value)
                     for value in values[:SHOWN]) + more


def features(x: object, name: str) -> np.ndarray:
    """``x`` as a float64 (clips, dims) array with at least one clip and every value finite."""
    array = np.asarray(x)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise ProbeDataError(f"{name} features must be a 2-D real array (clips, dims); "
                             f"got shape {array.shape}, dtype {array.dtype}")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise SplitError(f"the {name} split is empty (features of shape {array.shape}): every split "
                             "needs clips and at least one feature; check the split's speakers")
    array = array.astype(np.float64, copy=False)
    bad_rows = np.flatnonzero(~np.all(np.isfinite(array), axis=1))
    if len(bad_rows):
        raise ProbeDataError(f"{len(bad_rows)} of {len(array)} {name} clips have NaN or infinite features "
                             f"(rows {_shown(bad_rows)}): fix or drop those clips' features")
    return array


def column(values: object, rows: int, name: str, what: str) -> np.ndarray:
    """``values`` as a 1-D array of ``rows`` sortable values without missing ones (labels, speakers)."""
    array = np.asarray(values)
    if array.ndim != 1 or len(array) != rows:
        raise ProbeDataError(f"{name} has {rows} clips of features but {what} of shape {array.shape}: "
                             f"pass one {what[:-1]} per clip")
    missing = [i for i, value in enumerate(array.tolist())
               if value is None or (isinstance(value, float) and not np.isfinite(value))]
    if missing:
        raise ProbeDataError(f"{len(missing)} {name} clips have no {what[:-1]} (None or NaN; rows "
                             f"{_shown(missing)})")
    texts = array.dtype.kind in "US" or all(isinstance(value, str) for value in array.tolist())
    numbers = array.dtype.kind in "biuf" or all(isinstance(value, Real) for value in array.tolist())
    if not (texts or numbers):
        kinds = sorted({type(value).__name__ for value in array.tolist()})
        raise ProbeDataError(f"the {name} {what} mix types ({', '.join(kinds)}): give them all as str, or all as int")
    return array


def _kind(array: np.ndarray) -> str:
    """"text" or "number": the kind of ids ``array`` holds (``column`` refused any mixture)."""
    return "text" if array.dtype.kind in "US" or (array.dtype.kind == "O" and isinstance(array[0], str)) \
        else "number"


def same_kind(arrays: Sequence[np.ndarray], what: str) -> None:
    """Ids of one kind in every split: numpy would find no overlap between '1' and 1, and so would
    miss a test class absent from training, or a speaker on both sides."""
    kinds = [_kind(array) for array in arrays]
    if len(set(kinds)) > 1:
        raise ProbeDataError(f"the splits give {what} as different types (" + ", ".join(
            f"{name} {kind}" for name, kind in zip(SPLITS, kinds)) + "): give them all as str, or all as int")


def classes_trainable(labels: Sequence[np.ndarray]) -> None:
    """At least two classes in training, and no validation or test class that training lacks."""
    train = np.unique(labels[0])
    if len(train) < 2:
        raise SplitError(f"the train split holds {len(train)} class ({_shown(list(train))}): a classifier "
                             "needs 2 or more; check the labels and the split")
    for name, split_labels in zip(SPLITS[1:], labels[1:]):
        unseen = np.setdiff1d(np.unique(split_labels), train)
        if len(unseen):
            raise SplitError(f"{name} holds classes the train split lacks ({_shown(list(unseen))}): no "
                                 "classifier can predict them; move their speakers or drop those classes")


def speakers_disjoint(speakers: Sequence[np.ndarray]) -> None:
    """No speaker in two splits: the score is meant to be of speakers the classifier never heard."""
    for first in range(len(SPLITS)):
        for second in range(first + 1, len(SPLITS)):
            shared = np.intersect1d(speakers[first], speakers[second])
            if len(shared):
                raise SplitError(f"{len(shared)} speakers are in both {SPLITS[first]} and "
                                     f"{SPLITS[second]} ({_shown(list(shared))}): the splits must "
                                     "group clips by speaker")


def same_width(arrays: Sequence[np.ndarray]) -> None:
    """Every split has the same number of feature dimensions."""
    widths = [array.shape[1] for array in arrays]
    if len(set(widths)) > 1:
        raise ProbeDataError("the splits' features differ in width (" + ", ".join(
            f"{name} {width}" for name, width in zip(SPLITS, widths)) + "): use one model and layer for all")
