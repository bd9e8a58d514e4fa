"""What a run scores: the corpora it reads (a table, native dataset layouts) and their folds,
every fold checked for leaks before any audio is read."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.probe.corpus import Corpus
from hear_byols.probe.datasets import DATASETS, read_dataset
from hear_byols.probe.splits import Fold, check_fold, column_split, serab_split, speaker_kfold
from hear_byols.probe.table import read_table

SERAB_SPLIT, KFOLD, COLUMN = "serab", "speaker-kfold", "column"
SPLITS = (SERAB_SPLIT, KFOLD, COLUMN)


@dataclass(frozen=True)
class TableColumns:
    """The column names of a ``--labels`` table (split/fold: optional)."""

    path: str = "path"
    label: str = "label"
    speaker: str = "speaker"
    split: str | None = None
    fold: str | None = None


def read_corpora(labels: Path | None, columns: TableColumns, datasets: dict[str, Path]) -> list[Corpus]:
    """The table (if any) and each named dataset, in the order given."""
    if labels is None and not datasets:
        raise UsageError("nothing to score: give --labels TABLE and/or --dataset NAME=DIR")
    unknown = sorted(set(datasets) - set(DATASETS))
    if unknown:
        raise InvalidOptionError(f"--dataset {', '.join(unknown)}: unknown; the covered datasets are {', '.join(DATASETS)}")
    corpora = []
    if labels is not None:
        corpora.append(read_table(labels, path_column=columns.path, label_column=columns.label,
                                  speaker_column=columns.speaker, split_column=columns.split,
                                  fold_column=columns.fold, name=labels.stem))
    corpora += [read_dataset(name, root) for name, root in datasets.items()]
    names = [corpus.name for corpus in corpora]
    if len(set(names)) != len(names):
        raise UsageError(f"two corpora are named alike ({', '.join(names)}); rename the table file")
    return corpora


def default_split(columns: TableColumns, corpus_from_table: bool) -> str:
    """``column`` when the table has a split or fold column, ``speaker-kfold`` for another table,
    ``serab`` for a native dataset."""
    if corpus_from_table:
        return COLUMN if (columns.split or columns.fold) else KFOLD
    return SERAB_SPLIT


def folds_of(corpus: Corpus, split: str, k: int, seed: int = 0) -> list[Fold]:
    """The folds of ``corpus`` under ``split``, each checked (``check_fold``: no speaker in two
    parts, every class in training)."""
    if split == SERAB_SPLIT:
        made = serab_split(corpus)
    elif split == KFOLD:
        made = speaker_kfold(corpus, k, seed)
    elif split == COLUMN:
        made = column_split(corpus)
    else:
        raise InvalidOptionError(f"--split {split!r}: choose one of {', '.join(SPLITS)}")
    folds = list(made) if isinstance(made, (list, tuple)) else [made]
    for fold in folds:
        check_fold(corpus, fold)
    return folds
