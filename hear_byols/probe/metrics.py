"""Scores of a probe: accuracy, unweighted average recall (UAR), bootstrap confidence intervals and
the summary of speaker-k-fold runs.

Written with numpy alone so that every number in a report has one definition here, including the
edge cases scikit-learn settles with warnings (a class predicted but absent from the truth).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hear_byols.errors import InvalidOptionError, ProbeDataError

#: Resamples of the test clips behind every confidence interval, unless the caller says otherwise.
DEFAULT_N_BOOT = 1000
Metric = Callable[[np.ndarray, np.ndarray], float]


def _pair(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``y`` and ``p`` as 1-D arrays of one non-zero length, or a ProbeDataError saying what is wrong."""
    y, p = np.asarray(y), np.asarray(p)
    if y.ndim != 1 or p.ndim != 1:
        raise ProbeDataError(f"labels and predictions must be 1-D; got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ProbeDataError(f"{len(y)} labels but {len(p)} predictions: pass one prediction per clip")
    if len(y) == 0:
        raise ProbeDataError("no clips to score: the test split is empty")
    return y, p


def accuracy(y: np.ndarray, p: np.ndarray) -> float:
    """The fraction of clips whose prediction equals their label."""
    y, p = _pair(y, p)
    return float(np.mean(y == p))


def uar(y: np.ndarray, p: np.ndarray) -> float:
    """Unweighted average recall: the mean over the classes present in ``y`` of each class's recall.

    Classes that are only predicted do not enter the mean (scikit-learn's ``recall_score(average=
    "macro")`` would add them with a recall of 0); on a test split that holds every class, which
    is every SERAB split, the two agree.
    """
    y, p = _pair(y, p)
    classes, index = np.unique(y, return_inverse=True)
    hits = np.bincount(index, weights=(y == p).astype(float), minlength=len(classes))
    return float(np.mean(hits / np.bincount(index, minlength=len(classes))))


def check_n_boot(n_boot: int) -> int:
    """``n_boot`` as an int, if it is a positive integer (callers check it before hours of grid search)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise InvalidOptionError(f"n_boot must be a positive integer (bootstrap resamples), got {n_boot!r}")
    return int(n_boot)


def bootstrap_ci(y: np.ndarray, p: np.ndarray, metric: Metric, *, n_boot: int = DEFAULT_N_BOOT,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric(y, p)``: ``n_boot`` resamples of the clips with
    replacement, drawn by ``numpy.random.default_rng(seed)`` so the same call gives the same interval.

    Clips are resampled one by one, as if independent. Clips of one speaker are not, so the interval
    understates the uncertainty of a new set of speakers; speaker-k-fold's spread over folds shows more.
    """
    y, p = _pair(y, p)
    check_n_boot(n_boot)
    if not isinstance(level, (float, int)) or not 0.0 < level < 1.0:
        raise InvalidOptionError(f"level must be a fraction in (0, 1), e.g. 0.95; got {level!r}")
    rng = np.random.default_rng(seed)
    values = np.empty(int(n_boot))
    for draw in range(int(n_boot)):  # one resample at a time: memory stays one test set, whatever n_boot
        rows = rng.integers(0, len(y), size=len(y))
        values[draw] = metric(y[rows], p[rows])
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return float(low), float(high)


def summarize_folds(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (``ddof=1``: the spread of a new fold) over speaker folds.

    Needs two or more finite values: a failed fold (NaN) is the caller's to report, not to average away.
    """
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or len(array) < 2:
        raise ProbeDataError(f"summarize_folds needs the scores of 2 or more folds, got {array.size}")
    if not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ProbeDataError(f"{bad} of {len(array)} fold scores are not finite (a failed fold?): "
                             "report the failure instead of a mean over the other folds")
    return float(np.mean(array)), float(np.std(array, ddof=1))
