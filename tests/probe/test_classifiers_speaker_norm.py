"""Per-speaker z-scoring: SERAB's formula (population std, 0 -> 1), each split on its own speakers."""
from __future__ import annotations

import numpy as np
import pytest

from hear_byols.probe.speaker_norm import speaker_zscore
from helpers.probe_features import make_split


def serab_formula(x: np.ndarray, speakers: np.ndarray) -> np.ndarray:
    """SERAB's speaker_normalization restated: per speaker, minus the mean, over numpy's std (ddof=0)."""
    out = x.astype(np.float64).copy()
    for speaker in np.unique(speakers):
        rows = speakers == speaker
        out[rows] -= out[rows].mean(axis=0)
        std = out[rows].std(axis=0)
        std[std == 0] = 1
        out[rows] /= std
    return out


def test_each_speaker_has_mean_0_and_population_std_1_in_each_split() -> None:
    split = make_split(seed=5)
    for x, s in ((split.x_train, split.s_train), (split.x_val, split.s_val), (split.x_test, split.s_test)):
        z = speaker_zscore(x, s)
        assert z.dtype == np.float64 and z.shape == x.shape
        for speaker in np.unique(s):
            rows = z[s == speaker]
            np.testing.assert_allclose(rows.mean(axis=0), 0.0, atol=1e-12)
            np.testing.assert_allclose(rows.std(axis=0), 1.0, rtol=1e-12)  # ddof=0, as SERAB
        np.testing.assert_allclose(z, serab_formula(x, s), rtol=1e-12, atol=1e-12)


def test_a_split_is_normalised_with_its_own_speakers_statistics_only() -> None:
    split = make_split(seed=6)
    alone = speaker_zscore(split.x_test, split.s_test)
    together = speaker_zscore(np.concatenate([split.x_train, split.x_test]),
                              np.concatenate([split.s_train, split.s_test]))
    np.testing.assert_allclose(together[len(split.x_train):], alone, atol=1e-12)  # train rows change nothing


@pytest.mark.parametrize("value", [0.0, 0.1, -3.7e5, 1e-300])
def test_a_constant_feature_becomes_exactly_zero(value: float) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    x[:, 1] = value  # seven clips of 0.1 have a mean that is not exactly 0.1: SERAB's formula leaves 1.4e-17
    z = speaker_zscore(x, np.zeros(7, dtype=int))
    assert np.all(np.isfinite(z))
    assert np.all(z[:, 1] == 0.0)
    np.testing.assert_allclose(z[:, [0, 2]].std(axis=0), 1.0)


def test_a_speaker_with_one_clip_gets_zeros() -> None:
    x = np.array([[1.0, 2.0], [3.0, 5.0], [4.0, 9.0]])
    z = speaker_zscore(x, np.array(["a", "b", "b"]))
    assert np.all(z[0] == 0.0)
    np.testing.assert_allclose(z[1:], [[-1.0, -1.0], [1.0, 1.0]])


def test_non_finite_features_and_overflow_when_z_scored_are_refused() -> None:
    from hear_byols.errors import ProbeDataError

    x = np.array([[1e307, 1.0], [-1e308, 2.0], [1e308, 3.0]])  # finite, but their squares are not
    with pytest.raises(ProbeDataError, match="overflow float64 when z-scored per speaker"):
        speaker_zscore(x, np.zeros(3, dtype=int))
    with pytest.raises(ProbeDataError, match="1 feature values are NaN or infinite"):
        speaker_zscore(np.array([[np.nan, 1.0], [2.0, 3.0]]), np.zeros(2, dtype=int))
