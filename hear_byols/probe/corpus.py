"""A labelled corpus: clips with a label and the TRUE speaker, checked once when it is built.

Every later step (splits, features, classifiers) trusts these invariants, so they are enforced here
rather than where they would first bite: at least one clip, absolute paths, no path twice, no empty
label or speaker. Nothing here reads audio.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from hear_byols.errors import CorpusError

#: What ``Clip.split`` holds: split names ("train"/"validation"/"test") or fold ids.
SplitKind = Literal["split", "fold"]
#: How many offending items an error message lists before it says "and N more".
SHOWN = 5


@dataclass(frozen=True)
class Clip:
    """One labelled utterance. ``speaker`` is the person who speaks it (what splits group by)."""

    path: Path
    label: str
    speaker: str
    dataset: str
    split: str | None = None


@dataclass(frozen=True)
class Corpus:
    """The clips of one dataset or table, and how SERAB treated that dataset.

    ``serab_key`` indexes SERAB's fixed log-mel statistics (``None``: SERAB has none for it);
    ``serab_fractions`` are its train/validation/test speaker fractions; ``comparable_with_serab`` is
    False where SERAB's speaker grouping was wrong (IEMOCAP, ShEMO) or SERAB reported no number.
    ``split_kind`` says whether ``Clip.split`` holds split names or fold ids (``None``: no column).
    ``excluded`` counts the files the reader left out on purpose, by reason (RAVDESS songs...).
    """

    name: str
    clips: tuple[Clip, ...]
    serab_key: str | None = None
    serab_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    comparable_with_serab: bool = True
    split_kind: SplitKind | None = None
    excluded: tuple[tuple[str, int], ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.clips:
            raise CorpusError(f"corpus {self.name!r} has no clips: check the folder or table it was read from")
        _check_clips(self.name, self.clips)
        if len(self.serab_fractions) != 3 or abs(sum(self.serab_fractions) - 1.0) > 1e-8 or min(
                self.serab_fractions) < 0:
            raise CorpusError(f"corpus {self.name!r}: serab_fractions {self.serab_fractions} must be three "
                              "non-negative fractions summing to 1")

    def __len__(self) -> int:
        return len(self.clips)

    @property
    def paths(self) -> tuple[Path, ...]:
        return tuple(clip.path for clip in self.clips)

    @property
    def labels(self) -> np.ndarray:
        """Each clip's label (a string array, in clip order)."""
        return np.array([clip.label for clip in self.clips], dtype=str)

    @property
    def speakers(self) -> np.ndarray:
        """Each clip's speaker id (a string array, in clip order)."""
        return np.array([clip.speaker for clip in self.clips], dtype=str)

    @property
    def splits(self) -> tuple[str | None, ...]:
        return tuple(clip.split for clip in self.clips)

    @property
    def classes(self) -> tuple[str, ...]:
        """The labels, sorted: the class order of ``label_ids`` and of every confusion matrix."""
        return tuple(sorted({clip.label for clip in self.clips}))

    @property
    def label_ids(self) -> np.ndarray:
        """Each clip's index into ``classes`` (int64)."""
        index = {label: i for i, label in enumerate(self.classes)}
        return np.array([index[clip.label] for clip in self.clips], dtype=np.int64)

    @property
    def n_speakers(self) -> int:
        return len({clip.speaker for clip in self.clips})

    def class_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(clip.label for clip in self.clips).items()))


def _check_clips(name: str, clips: tuple[Clip, ...]) -> None:
    """Refuse relative paths, empty labels or speakers, and a path listed twice."""
    for clip in clips:
        if not isinstance(clip, Clip):
            raise CorpusError(f"corpus {name!r}: {clip!r} is not a Clip")
        if not isinstance(clip.path, Path) or not clip.path.is_absolute():
            raise CorpusError(f"corpus {name!r}: clip path {str(clip.path)!r} is not an absolute pathlib.Path")
        for what in ("label", "speaker"):
            value = getattr(clip, what)
            if not isinstance(value, str):
                raise CorpusError(f"corpus {name!r}: {clip.path} has {what} {value!r}, not a string (speaker "
                                  "ids are strings: '01' is not 1)")
            if not value.strip():
                raise CorpusError(f"corpus {name!r}: {clip.path} has an empty {what}: every clip needs one")
    counts = Counter(clip.path for clip in clips)
    twice = [path for path, count in counts.items() if count > 1]
    if twice:
        raise CorpusError(f"corpus {name!r}: {len(twice)} path(s) listed more than once: "
                          f"{listing(str(path) for path in twice)}; list each clip once")


def listing(items, shown: int = SHOWN) -> str:
    """``a, b, c and 4 more``: a bounded list for an error message."""
    items = list(items)
    head = ", ".join(items[:shown])
    return head if len(items) <= shown else f"{head} and {len(items) - shown} more"
