"""The corpus's invariants and helpers."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hear_byols.errors import CorpusError
from hear_byols.probe.corpus import Clip, Corpus


def clip(i: int, label: str = "a", speaker: str = "s0", **fields) -> Clip:
    return Clip(path=Path(f"/data/{i}.wav"), label=label, speaker=speaker, dataset="toy", **fields)


def test_helpers_in_clip_order():
    corpus = Corpus(name="toy", clips=(clip(0, "sad", "02"), clip(1, "angry", "10"), clip(2, "sad", "10")))
    assert len(corpus) == 3 and corpus.n_speakers == 2
    assert corpus.classes == ("angry", "sad")
    assert corpus.labels.tolist() == ["sad", "angry", "sad"]
    assert corpus.speakers.tolist() == ["02", "10", "10"]
    assert corpus.label_ids.tolist() == [1, 0, 1] and corpus.label_ids.dtype == np.int64
    assert corpus.class_counts() == {"angry": 1, "sad": 2}
    assert corpus.paths[0] == Path("/data/0.wav") and corpus.splits == (None, None, None)


def test_defaults_are_serab_s():
    corpus = Corpus(name="toy", clips=(clip(0),))
    assert corpus.serab_fractions == (0.6, 0.2, 0.2) and corpus.serab_key is None
    assert corpus.comparable_with_serab and corpus.excluded == () and corpus.split_kind is None


@pytest.mark.parametrize("clips, message", [
    ((), "has no clips"),
    ((clip(0), clip(0)), "listed more than once"),
    ((clip(0, label=""),), "empty label"),
    ((clip(0, speaker=" "),), "empty speaker"),
    ((Clip(path=Path("rel.wav"), label="a", speaker="s", dataset="toy"),), "not an absolute"),
    ((Clip(path="/data/0.wav", label="a", speaker="s", dataset="toy"),), "not an absolute pathlib.Path"),
    ((clip(0, speaker=1),), "speaker 1, not a string"),
    ((clip(0, label=None),), "label None, not a string"),
    (("not a clip",), "is not a Clip"),
])
def test_refuses_a_corpus_that_would_score_wrongly(clips, message):
    with pytest.raises(CorpusError, match=message):
        Corpus(name="toy", clips=clips)


@pytest.mark.parametrize("fractions", [(0.5, 0.2, 0.2), (0.6, 0.4), (1.2, -0.1, -0.1)])
def test_refuses_bad_serab_fractions(fractions):
    with pytest.raises(CorpusError, match="serab_fractions"):
        Corpus(name="toy", clips=(clip(0),), serab_fractions=fractions)


def test_duplicate_listing_is_bounded():
    clips = tuple(clip(i) for i in range(8)) * 2
    with pytest.raises(CorpusError, match=r"8 path\(s\) listed more than once: .* and 3 more; list each clip once"):
        Corpus(name="toy", clips=clips)
