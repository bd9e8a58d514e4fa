"""Speaker-independent splits of a corpus: SERAB's, speaker k-fold, or the table's own column.

Every fold is checked before it is returned (``check_fold``): no speaker in two parts, no empty
part, no class without a training clip. A split that cannot satisfy that is refused with a
``SplitError`` that says what to change, never silently bent.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hear_byols.errors import SplitError
from hear_byols.probe.corpus import Corpus, listing
from hear_byols.probe.table import SPLIT_NAMES, split_name

PARTS = ("train", "validation", "test")
#: SERAB shuffles the sorted speaker ids with this seed (its ``split_number``), always.
SERAB_SEED = 0
#: Inner validation of a split column without validation rows: one of this many speaker groups.
INNER_GROUPS = 4


@dataclass(frozen=True, eq=False)
class Fold:
    """Indices into ``corpus.clips`` of one fold's parts (sorted int64, read-only).

    ``validation`` tunes hyper-parameters (scikit-learn's ``PredefinedSplit``); ``test`` is scored.
    """

    name: str
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in PARTS:
            array = np.sort(np.asarray(getattr(self, part), dtype=np.int64).reshape(-1))
            array.setflags(write=False)
            object.__setattr__(self, part, array)

    def parts(self) -> dict[str, np.ndarray]:
        return {part: getattr(self, part) for part in PARTS}


def serab_split(corpus: Corpus) -> list[Fold]:
    """SERAB's split, bit for bit: the sorted unique speaker ids (as strings), shuffled by
    ``numpy.random.RandomState(0)``, cut at ``int(cumulative_fraction * n_speakers)``."""
    groups = sorted(set(corpus.speakers.tolist()))
    _check_speaker_count(corpus, len(groups), needed=3, what="SERAB's split (one speaker per part at least)")
    np.random.RandomState(SERAB_SEED).shuffle(groups)
    part_of = {}
    for part, (start, end) in zip(PARTS, serab_boundaries(corpus.serab_fractions, len(groups))):
        part_of.update((speaker, part) for speaker in groups[start:end])
    assigned = np.array([part_of[speaker] for speaker in corpus.speakers.tolist()])
    fold = Fold("serab", *(np.flatnonzero(assigned == part) for part in PARTS))
    check_fold(corpus, fold)
    return [fold]


def serab_boundaries(fractions: Sequence[float], n_items: int) -> list[tuple[int, int]]:
    """(start, end) of each part: the cumulative fraction summed in order, as SERAB sums it (so
    0.7 + 0.1 is 0.7999...), truncated by ``int``; the last part ends at ``n_items``."""
    bounds, cumulative = [], 0.0
    for fraction in fractions:
        previous = cumulative
        cumulative += fraction
        bounds.append((int(previous * n_items), int(cumulative * n_items)))
    bounds[-1] = (bounds[-1][0], n_items)
    return bounds


def speaker_kfold(corpus: Corpus, k: int = 5, seed: int = 0) -> list[Fold]:
    """``k`` speaker-grouped folds, class-balanced where the speakers allow; each clip is in exactly
    one test part. Each fold's validation speakers are an inner speaker-grouped, class-balanced split
    of its training speakers (about one in ``k - 1``)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise SplitError(f"speaker k-fold needs an integer number of folds of at least 2, not {k!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 32:
        raise SplitError(f"the fold seed must be an integer from 0 to 2**32 - 1, not {seed!r}")
    n_speakers = corpus.n_speakers
    _check_speaker_count(corpus, n_speakers, needed=max(k, 3), what=f"{k}-fold speaker split")
    speakers, label_ids, n_classes = corpus.speakers, corpus.label_ids, len(corpus.classes)
    group_of = assign_groups(speakers, label_ids, n_classes, int(k), seed)
    fold_of_clip = np.array([group_of[speaker] for speaker in speakers.tolist()])
    folds = []
    for index in range(int(k)):
        rest = np.flatnonzero(fold_of_clip != index)
        train, validation = inner_split(corpus, rest, max(int(k) - 1, 2), seed, f"fold{index + 1}")
        fold = Fold(f"fold{index + 1}", train, validation, np.flatnonzero(fold_of_clip == index))
        check_fold(corpus, fold)
        folds.append(fold)
    return folds


def assign_groups(speakers: np.ndarray, label_ids: np.ndarray, n_classes: int, n_groups: int,
                  seed: int) -> dict[str, int]:
    """Each speaker's group, greedily: the largest speakers first (ties in a ``seed`` order), each into
    the group where it brings every class's share closest to ``1 / n_groups``; no group stays empty."""
    unique, inverse = np.unique(speakers, return_inverse=True)
    histograms = np.zeros((len(unique), n_classes))
    np.add.at(histograms, (inverse, label_ids), 1)
    totals = np.maximum(histograms.sum(axis=0), 1)
    tie_break = np.random.RandomState(seed).permutation(len(unique))
    order = np.lexsort((tie_break, -histograms.sum(axis=1)))
    counts = np.zeros((n_groups, n_classes))
    members = np.zeros(n_groups, dtype=np.int64)
    share = 1.0 / n_groups
    group_of = {}
    for position, speaker in enumerate(order):
        empty = np.flatnonzero(members == 0)
        candidates = empty if len(order) - position <= len(empty) else np.arange(n_groups)
        before = ((counts[candidates] / totals - share) ** 2).sum(axis=1)
        after = (((counts[candidates] + histograms[speaker]) / totals - share) ** 2).sum(axis=1)
        keys = [(round(float(a - b), 12), float(counts[g].sum()), int(g))
                for a, b, g in zip(after, before, candidates)]
        group = min(keys)[2]
        counts[group] += histograms[speaker]
        members[group] += 1
        group_of[str(unique[speaker])] = group
    return group_of


def inner_split(corpus: Corpus, indices: np.ndarray, n_groups: int, seed: int,
                fold: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) of ``indices``: validation is one of ``n_groups`` class-balanced speaker
    groups of those clips' speakers, so no validation speaker trains."""
    speakers = corpus.speakers[indices]
    n_speakers = len(set(speakers.tolist()))
    if n_speakers < 2:
        raise SplitError(f"{fold}: its training part has {n_speakers} speaker(s); at least 2 are needed to "
                         "hold out validation speakers (use fewer folds, or a table with more speakers)")
    group_of = assign_groups(speakers, corpus.label_ids[indices], len(corpus.classes),
                             min(n_groups, n_speakers), seed)
    held_out = np.array([group_of[speaker] == 0 for speaker in speakers.tolist()])
    return indices[~held_out], indices[held_out]


def column_split(corpus: Corpus) -> list[Fold]:
    """The folds a split or fold column of the table defines (``Clip.split``).

    Split names: one fold, "column"; without validation rows, validation is an inner speaker split of
    the training speakers. Fold ids: each id in turn is the test part, the other ids train, with an
    inner speaker split of their speakers for validation.
    """
    unset = [str(clip.path) for clip in corpus.clips if clip.split is None]
    if unset:
        raise SplitError(f"corpus {corpus.name!r}: {len(unset)} clip(s) have no split value: {listing(unset)}")
    kind = corpus.split_kind
    if kind is None:
        if not all(clip.split.strip().lower() in SPLIT_NAMES for clip in corpus.clips):
            raise SplitError(f"corpus {corpus.name!r}: its split values are not all train/validation/test, and "
                             "the corpus does not say they are fold ids (read the table with fold_column)")
        kind = "split"
    return [_named_split(corpus)] if kind == "split" else _fold_column(corpus)


def _named_split(corpus: Corpus) -> Fold:
    names = np.array([split_name(clip.split, f"corpus {corpus.name!r}, {clip.path}") for clip in corpus.clips])
    for part in ("train", "test"):
        if not (names == part).any():
            raise SplitError(f"corpus {corpus.name!r}: no clip is marked {part!r} in the split column")
    train, test = np.flatnonzero(names == "train"), np.flatnonzero(names == "test")
    validation = np.flatnonzero(names == "validation")
    if not len(validation):
        train, validation = inner_split(corpus, train, INNER_GROUPS, 0, "column")
    fold = Fold("column", train, validation, test)
    check_fold(corpus, fold)
    return fold


def _fold_column(corpus: Corpus) -> list[Fold]:
    values = np.array([clip.split.strip() for clip in corpus.clips])
    ids = sorted(set(values.tolist()), key=lambda v: (0, int(v), v) if v.lstrip("-").isdigit() else (1, 0, v))
    if len(ids) < 2:
        raise SplitError(f"corpus {corpus.name!r}: the fold column has {len(ids)} fold id ({ids[0]!r}); "
                         "at least 2 are needed (each in turn is the test part)")
    folds_of: dict[str, set[str]] = {}
    for speaker, value in zip(corpus.speakers.tolist(), values.tolist()):
        folds_of.setdefault(speaker, set()).add(value)
    mixed = [f"{speaker!r} ({', '.join(sorted(ids_))})" for speaker, ids_ in folds_of.items() if len(ids_) > 1]
    if mixed:
        raise SplitError(f"corpus {corpus.name!r}: speaker(s) in more than one fold: {listing(mixed)}; "
                         "give all of a speaker's clips one fold id")
    folds = []
    for fold_id in ids:
        name = f"fold{fold_id}"
        train, validation = inner_split(corpus, np.flatnonzero(values != fold_id), max(len(ids) - 1, 2), 0, name)
        fold = Fold(name, train, validation, np.flatnonzero(values == fold_id))
        check_fold(corpus, fold)
        folds.append(fold)
    return folds


def check_fold(corpus: Corpus, fold: Fold) -> None:
    """Refuse a fold that would score wrongly: bad or shared indices, an empty part, a speaker in two
    parts, fewer than 2 training classes, a class with no training clip."""
    parts = fold.parts()
    for part, indices in parts.items():
        if not len(indices):
            raise SplitError(f"{fold.name}: the {part} part has no clip ({corpus.n_speakers} speakers in "
                             f"corpus {corpus.name!r}); use fewer folds or a corpus with more speakers")
        if indices[0] < 0 or indices[-1] >= len(corpus) or len(np.unique(indices)) != len(indices):
            raise SplitError(f"{fold.name}: the {part} indices are not distinct clip indices of {corpus.name!r}")
    speakers = corpus.speakers
    speaker_sets = {part: set(speakers[indices].tolist()) for part, indices in parts.items()}
    for first, second in (("train", "validation"), ("train", "test"), ("validation", "test")):
        shared = sorted(speaker_sets[first] & speaker_sets[second])
        if shared:
            raise SplitError(f"{fold.name}: speaker(s) {listing(repr(s) for s in shared)} are in both {first} "
                             f"and {second}; every speaker's clips must be on one side")
        if len(np.intersect1d(parts[first], parts[second])):
            raise SplitError(f"{fold.name}: clips are in both {first} and {second}")
    _check_classes(corpus, fold)


def _check_classes(corpus: Corpus, fold: Fold) -> None:
    labels = corpus.labels
    trained = set(labels[fold.train].tolist())
    if len(trained) < 2:
        raise SplitError(f"{fold.name}: the training clips have {len(trained)} class ({listing(sorted(trained))}); "
                         "a classifier needs at least 2")
    for part in ("validation", "test"):
        untrained = sorted(set(labels[getattr(fold, part)].tolist()) - trained)
        if untrained:
            raise SplitError(f"{fold.name}: class(es) {listing(repr(c) for c in untrained)} have no training clip "
                             f"(they are in {part}); drop them, or change the split so that training speakers "
                             "have them")


def _check_speaker_count(corpus: Corpus, n_speakers: int, needed: int, what: str) -> None:
    if n_speakers == 1:
        raise SplitError(f"corpus {corpus.name!r} has one speaker only ({corpus.clips[0].speaker!r}): a "
                         "speaker-independent score needs several speakers")
    if n_speakers < needed:
        raise SplitError(f"corpus {corpus.name!r} has {n_speakers} speakers, fewer than the {needed} that "
                         f"{what} needs")
