"""The probe's metrics: accuracy, UAR, bootstrap intervals, the fold summary, and their refusals."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import recall_score

from hear_byols.errors import InvalidOptionError, ProbeDataError
from hear_byols.probe.metrics import accuracy, bootstrap_ci, summarize_folds, uar


def predictions_with_accuracy(n: int, correct: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labels of 4 balanced classes and predictions right on exactly ``round(correct * n)`` clips."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    p = y.copy()
    wrong = rng.choice(n, size=n - round(correct * n), replace=False)
    p[wrong] = (y[wrong] + 1) % 4
    return y, p


def test_accuracy_and_uar_by_hand() -> None:
    y = np.array(["a", "a", "a", "a", "b"])
    p = np.array(["a", "a", "a", "b", "a"])
    assert accuracy(y, p) == pytest.approx(3 / 5)
    assert uar(y, p) == pytest.approx((3 / 4 + 0 / 1) / 2)  # class b's one clip missed: UAR far below accuracy


def test_uar_equals_sklearn_macro_recall_when_every_class_is_in_the_truth() -> None:
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 5, size=300), rng.integers(0, 5, size=300)
    assert set(y) == set(range(5))
    assert uar(y, p) == pytest.approx(recall_score(y, p, average="macro"))


def test_uar_ignores_classes_only_predicted() -> None:
    y, p = np.array([0, 0, 1, 1]), np.array([0, 2, 1, 1])
    assert uar(y, p) == pytest.approx((0.5 + 1.0) / 2)  # class 2 is not in y: not a recall of 0 in the mean


@pytest.mark.parametrize("y, p, message", [
    (np.array([0, 1]), np.array([0]), "2 labels but 1 predictions"),
    (np.array([], dtype=int), np.array([], dtype=int), "empty"),
    (np.zeros((2, 2)), np.zeros((2, 2)), "1-D"),
])
def test_metrics_refuse_bad_pairs(y, p, message) -> None:
    for metric in (accuracy, uar):
        with pytest.raises(ProbeDataError, match=message):
            metric(y, p)


def test_bootstrap_ci_holds_the_estimate_narrows_with_more_clips_and_is_seeded() -> None:
    widths = []
    for n in (100, 1000):
        y, p = predictions_with_accuracy(n, 0.8)
        for metric in (accuracy, uar):
            low, high = bootstrap_ci(y, p, metric, n_boot=500, seed=3)
            assert low <= metric(y, p) <= high
            assert (low, high) == bootstrap_ci(y, p, metric, n_boot=500, seed=3)
        widths.append(high - low)
        assert bootstrap_ci(y, p, accuracy, n_boot=500, seed=4) != bootstrap_ci(y, p, accuracy, n_boot=500, seed=3)
    # The width of a binomial proportion's interval goes as 1/sqrt(n): 10x the clips, about a third of it.
    assert widths[1] < 0.5 * widths[0]


def test_bootstrap_ci_width_matches_the_binomial_one() -> None:
    y, p = predictions_with_accuracy(400, 0.7)
    low, high = bootstrap_ci(y, p, accuracy, n_boot=2000, level=0.95, seed=0)
    expected = 2 * 1.96 * np.sqrt(0.7 * 0.3 / 400)  # normal approximation of the 95% interval
    assert high - low == pytest.approx(expected, rel=0.15)


@pytest.mark.parametrize("options", [{"n_boot": 0}, {"n_boot": -5}, {"n_boot": 2.5}, {"n_boot": True},
                                     {"level": 0.0}, {"level": 1.0}, {"level": float("nan")}])
def test_bootstrap_ci_refuses_bad_options(options) -> None:
    y, p = predictions_with_accuracy(20, 0.5)
    with pytest.raises(InvalidOptionError):
        bootstrap_ci(y, p, accuracy, **options)


def test_summarize_folds_is_the_mean_and_the_sample_std() -> None:
    values = [0.61, 0.70, 0.55, 0.66]
    mean, std = summarize_folds(values)
    assert mean == pytest.approx(np.mean(values))
    assert std == pytest.approx(np.std(values, ddof=1))
    assert std > np.std(values)  # ddof=1, not numpy's default ddof=0


@pytest.mark.parametrize("values, message", [([0.5], "2 or more folds"), ([], "2 or more folds"),
                                             ([0.5, float("nan"), 0.6], "1 of 3 fold scores are not finite")])
def test_summarize_folds_refuses_too_few_or_failed_folds(values, message) -> None:
    with pytest.raises(ProbeDataError, match=message):
        summarize_folds(values)
