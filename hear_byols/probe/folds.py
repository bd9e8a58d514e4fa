"""One fold of one model: the clips that have features, arranged as the classifiers' ``Split``, and
every family's result on it."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hear_byols.probe.classifiers import Split, evaluate
from hear_byols.probe.contents import Staged
from hear_byols.probe.corpus import Corpus
from hear_byols.probe.features import FeatureMatrix
from hear_byols.probe.plan import ProbeOptions
from hear_byols.probe.results import FoldOutcome
from hear_byols.probe.splits import Fold


def linked_positions(corpus: Corpus, staged: Staged) -> dict[int, int]:
    """Clip index -> its position among the clips that were linked (the features' order)."""
    linked = [index for index, clip in enumerate(corpus.clips) if clip.path in staged.links]
    return {index: position for position, index in enumerate(linked)}


def failed_clips(corpus: Corpus, staged: Staged, failures: Mapping[tuple[str, str, int], Mapping[int, str]]) -> dict[int, str]:
    """Clip index -> why it has no features (unreadable, or any model failed on it): such a clip is
    left out for every model, so the models are compared on the same clips."""
    failed = {index: reason for index, clip in enumerate(corpus.clips)
              if (reason := staged.unreadable.get(clip.path)) is not None}
    clip_of = {position: index for index, position in linked_positions(corpus, staged).items()}
    for (model, name, _), failed_here in failures.items():
        if name == corpus.name:
            for position, reason in failed_here.items():
                clip = corpus.clips[clip_of[position]]
                said = reason.replace(str(staged.links[clip.path]), str(clip.path))  # the user's path, not the cache's link
                failed.setdefault(clip_of[position], f"{model}: {said}")
    return failed


def usable_fold(corpus: Corpus, fold: Fold, failed: Mapping[int, str]) -> Fold:
    """``fold`` without the failed clips."""
    keep = [np.asarray([i for i in part if int(i) not in failed], dtype=np.int64)
            for part in (fold.train, fold.validation, fold.test)]
    return Fold(fold.name, *keep)


def evaluate_fold(model: str, corpus: Corpus, fold: Fold, matrix: FeatureMatrix, staged: Staged,
                  options: ProbeOptions) -> FoldOutcome:
    """Every family of ``options.families`` tuned on the fold's validation part, scored on its test part."""
    position = linked_positions(corpus, staged)
    row = {p: r for r, p in enumerate(matrix.rows)}

    def part(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rows = [row[position[int(i)]] for i in indices]
        clips = [corpus.clips[int(i)] for i in indices]
        return (matrix.values[rows], np.asarray([c.label for c in clips]), np.asarray([c.speaker for c in clips]))

    split = Split(*part(fold.train), *part(fold.validation), *part(fold.test))
    results = evaluate(split, families=list(options.families), speaker_norm=options.speaker_norm, jobs=options.jobs,
                       random_state=42)
    return FoldOutcome(model, corpus.name, fold.name, results, split.y_test)
