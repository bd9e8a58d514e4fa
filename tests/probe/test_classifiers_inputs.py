"""Bad folds and bad options are refused before any fit, each with a message naming the problem."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hear_byols.errors import InvalidOptionError, ProbeDataError, SplitError
from hear_byols.probe.classifiers import evaluate
from helpers.probe_features import make_split

SPLIT = make_split(seed=0, speakers=(3, 1, 1), per_class=2, classes=3, dims=4)


def with_nan_rows(x: np.ndarray, rows: list[int]) -> np.ndarray:
    x = x.copy()
    x[rows, 1] = np.nan
    x[rows[-1], 2] = np.inf
    return x


@pytest.mark.parametrize("change, message, error", [
    ({"x_test": with_nan_rows(SPLIT.x_test, [0, 3])}, r"2 of 6 test clips have NaN or infinite features \(rows 0, 3\)", ProbeDataError),
    ({"x_train": np.full_like(SPLIT.x_train, np.inf)}, "18 of 18 train clips have NaN or infinite", ProbeDataError),
    ({"y_val": SPLIT.y_val[:-1]}, "validation has 6 clips of features but labels of shape", ProbeDataError),
    ({"s_train": SPLIT.s_train[:3]}, "train has 18 clips of features but speakers of shape", ProbeDataError),
    ({"x_val": SPLIT.x_val[:0], "y_val": SPLIT.y_val[:0], "s_val": SPLIT.s_val[:0]}, "the validation split is empty", SplitError),
    ({"x_test": SPLIT.x_test[:, :3]}, "differ in width .*train 4, validation 4, test 3", ProbeDataError),
    ({"x_train": SPLIT.x_train[:, 0]}, "train features must be a 2-D real array", ProbeDataError),
    ({"x_train": SPLIT.x_train.astype(str)}, "train features must be a 2-D real array", ProbeDataError),
    ({"y_test": np.where(SPLIT.y_test == 2, 7, SPLIT.y_test)}, r"test holds classes the train split lacks \(7\)", SplitError),
    ({"y_train": np.zeros_like(SPLIT.y_train)}, r"the train split holds 1 class \(0\)", SplitError),
    ({"y_val": SPLIT.y_val.astype(str)}, "different types", ProbeDataError),
    ({"y_train": np.array([None] * 18, dtype=object)}, "18 train clips have no label", ProbeDataError),
    ({"y_train": SPLIT.y_train.astype(float) * np.r_[np.nan, np.ones(17)]}, "1 train clips have no label", ProbeDataError),
    ({"s_test": SPLIT.s_train[:6]}, "speakers are in both train and test .*'spk000'", SplitError),
    ({"s_val": np.array(["spk000", 1, 2, 3, 4, 5], dtype=object)}, "mix types", ProbeDataError),
])
def test_bad_folds_are_refused_with_what_is_wrong(change: dict, message: str, error: type) -> None:
    with pytest.raises(error, match=message):
        evaluate(replace(SPLIT, **change), families=["lda"])


@pytest.mark.parametrize("options, message", [
    ({"families": ["lda", "knn"]}, r"unknown classifier families \['knn'\]; choose among lda, logreg, qda, rf, svc"),
    ({"families": []}, "no classifier family given"),
    ({"jobs": 0}, "jobs must be a positive integer"),
    ({"jobs": -1}, "jobs must be a positive integer"),
    ({"jobs": 1.5}, "jobs must be a positive integer"),
    ({"jobs": True}, "jobs must be a positive integer"),
    ({"n_boot": 0}, "n_boot must be a positive integer"),
    ({"random_state": -1}, "random_state must be an integer"),
    ({"random_state": None}, "random_state must be an integer"),
    ({"speaker_norm": "yes"}, "speaker_norm must be True or False"),
])
def test_bad_options_are_refused(options: dict, message: str) -> None:
    with pytest.raises(InvalidOptionError, match=message):
        evaluate(SPLIT, **{"families": ["lda"], **options})


def test_a_split_of_another_type_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="takes a hear_byols.probe.classifiers.Split"):
        evaluate(tuple(SPLIT.parts()))


def test_one_family_name_as_a_string_is_one_family_and_labels_may_be_strings() -> None:
    names = np.array(["angry", "happy", "sad"])
    split = replace(SPLIT, y_train=names[SPLIT.y_train], y_val=names[SPLIT.y_val], y_test=names[SPLIT.y_test])
    (result,) = evaluate(split, families="lda", n_boot=10)
    assert result.family == "lda" and set(result.predictions) <= set(names)
    assert result.test_accuracy == np.mean(result.predictions == split.y_test)
