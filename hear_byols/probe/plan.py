"""A run's plan, checked whole before any audio is read: options, corpora, folds, the statistics
policy of every fold. Every refusal of the issue that needs no audio happens here."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hear_byols.distributed import Shard
from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.extract.options import checked_device
from hear_byols.extract.shards import choose_shard, parse_shard_option, resolve_device
from hear_byols.inference.precision import parse_precision
from hear_byols.probe.classifiers import FAMILIES
from hear_byols.probe.corpora import SPLITS, TableColumns, default_split, folds_of, read_corpora
from hear_byols.probe.corpus import Corpus
from hear_byols.probe.modelspec import ModelSpec, parse_models
from hear_byols.probe.normalization import SERAB, TRAIN, Policy, parse_policy, serab_statistics
from hear_byols.probe.splits import Fold
from hear_byols.variants import variant_names

CACHE_FOLDER = "cache"


@dataclass(frozen=True)
class ProbeOptions:
    """Everything ``hear-byols probe`` takes (docs/PROBE.md); ``run()``'s keyword arguments."""

    out: Path
    models: tuple[str, ...]
    labels: Path | None = None
    columns: TableColumns = TableColumns()
    datasets: Mapping[str, Path] = field(default_factory=dict)
    split: str | None = None
    folds: int = 5
    seed: int = 0
    normalization: str | None = None
    speaker_norm: bool = True
    families: tuple[str, ...] = tuple(FAMILIES)
    jobs: int = 1
    weights: Mapping[str, Path] = field(default_factory=dict)
    precision: str = "float32"
    device: str | None = None
    cache: Path | None = None
    shard: str | None = None
    report_only: bool = False
    workers: int = 0
    batch_size: int = 1


@dataclass(frozen=True)
class CorpusPlan:
    """One corpus, its folds, and for each fold the fixed statistics (None: measured on training)."""

    corpus: Corpus
    split: str
    folds: list[Fold]
    policy: Policy
    fixed: tuple[float, float] | None


@dataclass(frozen=True)
class Plan:
    options: ProbeOptions
    models: list[ModelSpec]
    corpora: list[CorpusPlan]
    cache: Path
    device: torch.device
    shard: Shard
    shard_source: str

    @property
    def partial(self) -> bool:
        """A shard of several only fills the cache; the report needs every shard's features."""
        return self.shard.count > 1


def make_plan(options: ProbeOptions) -> Plan:
    """The checked plan; UsageError/InvalidOptionError name what is wrong and the fix."""
    _check_counts(options)
    if options.out.exists() and not options.out.is_dir():
        raise UsageError(f"--out {options.out} is a file, not a directory; name a directory (it is created if missing)")
    models = parse_models(list(options.models))
    _check_families(options.families)
    _check_weights(options.weights)
    parse_precision(options.precision)
    device = resolve_device(None if options.device is None else checked_device(options.device))
    shard, source = choose_shard(parse_shard_option(options.shard) if options.shard else None)
    corpora = read_corpora(options.labels, options.columns, dict(options.datasets))
    plans = [_corpus_plan(corpus, options, from_table=options.labels is not None and i == 0)
             for i, corpus in enumerate(corpora)]
    cache = options.cache if options.cache is not None else options.out / CACHE_FOLDER
    return Plan(options, models, plans, cache, device, shard, source)


def _corpus_plan(corpus: Corpus, options: ProbeOptions, *, from_table: bool) -> CorpusPlan:
    split = options.split or default_split(options.columns, from_table)
    folds = folds_of(corpus, split, options.folds, options.seed)
    policy = parse_policy(options.normalization or (TRAIN if from_table else SERAB))
    fixed = serab_statistics(corpus.serab_key, corpus.name) if policy.kind == SERAB else None
    return CorpusPlan(corpus, split, folds, policy, fixed)


def _check_counts(options: ProbeOptions) -> None:
    for name, value, minimum in (("--folds", options.folds, 2), ("--jobs", options.jobs, 1),
                                 ("--workers", options.workers, 0), ("--batch-size", options.batch_size, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidOptionError(f"{name} {value!r}: must be an integer of at least {minimum}")
    if options.split is not None and options.split not in SPLITS:
        raise InvalidOptionError(f"--split {options.split!r}: choose one of {', '.join(SPLITS)}")


def _check_families(families: tuple[str, ...]) -> None:
    unknown = [name for name in families if name not in FAMILIES]
    if unknown or not families:
        raise InvalidOptionError(f"--families {' '.join(unknown) or '(none)'}: choose among {', '.join(FAMILIES)}")
    if len(set(families)) != len(families):
        raise InvalidOptionError(f"--families {' '.join(families)}: name each family once")


def _check_weights(weights: Mapping[str, Path]) -> None:
    for variant, path in weights.items():
        if variant not in variant_names():
            raise InvalidOptionError(f"--weights {variant}={path}: unknown variant; use one of {', '.join(variant_names())}")
        if not Path(path).is_file():
            raise UsageError(f"--weights {variant}={path}: no such file; give the path of a checkpoint of {variant}")
