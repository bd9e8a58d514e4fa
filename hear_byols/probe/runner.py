"""``hear_byols.probe.run``: a labelled corpus in, speaker-independent scores out (docs/PROBE.md).

Stages: plan (every check that needs no audio) -> hash and link the clips -> the statistics of
each fold (``train``) -> features into the cache (the engine, openSMILE) -> [a shard of several
stops here] -> features read back -> classifiers per fold -> the results table and RUN_DIR's files.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import BaseFileLock

from hear_byols.errors import StorageError, UsageError
from hear_byols.probe.contents import Staged, stage
from hear_byols.probe.corpora import TableColumns
from hear_byols.probe.embeddings import EmbedSettings
from hear_byols.probe.features import FeatureMatrix, FeatureRequest, check, compute, feature_folder, read
from hear_byols.probe.folds import evaluate_fold, failed_clips, usable_fold
from hear_byols.probe.normalization import TRAIN, load_option
from hear_byols.probe.plan import Plan, ProbeOptions, make_plan
from hear_byols.probe.report import RunRecord, write_report
from hear_byols.probe.results import FoldOutcome, ResultRow, table
from hear_byols.probe.timing import StageTimer
from hear_byols.probe.train_stats import training_statistics
from hear_byols.storage.atomic import create_out_dir
from hear_byols.storage.locking import acquire

LOG = logging.getLogger("hear_byols.probe")


def run(out: str | os.PathLike[str], *, models: Sequence[str], labels: str | os.PathLike[str] | None = None,
        datasets: Mapping[str, str | os.PathLike[str]] | None = None, path_column: str = "path",
        label_column: str = "label", speaker_column: str = "speaker", split_column: str | None = None,
        fold_column: str | None = None, weights: Mapping[str, str | os.PathLike[str]] | None = None,
        cache: str | os.PathLike[str] | None = None, **options: Any) -> list[ResultRow]:
    """Score ``models`` on a table and/or native datasets; writes RUN_DIR ``out`` and returns its
    results rows (``[]`` for a shard of several, which only fills the cache). The other keyword
    arguments are ``ProbeOptions``' fields: split, folds, normalization, speaker_norm, families,
    jobs, precision, device, shard, report_only, workers, batch_size."""
    columns = TableColumns(path_column, label_column, speaker_column, split_column, fold_column)
    return execute(ProbeOptions(
        out=Path(out), models=(models,) if isinstance(models, str) else tuple(models), labels=None if labels is None else Path(labels), columns=columns,
        datasets={name: Path(root) for name, root in (datasets or {}).items()},
        weights={name: Path(path) for name, path in (weights or {}).items()},
        cache=None if cache is None else Path(cache), **options,
    ))


@dataclass
class Features:
    """Per (model, corpus, fold): its request, its cache folder and its failed clips."""

    requests: dict[tuple[str, str, int], FeatureRequest] = field(default_factory=dict)
    paths: dict[tuple[str, str, int], Path] = field(default_factory=dict)
    failed: dict[tuple[str, str, int], dict[int, str]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    folders: dict[str, str] = field(default_factory=dict)


def execute(options: ProbeOptions) -> list[ResultRow]:
    """Run a checked plan (``make_plan``) to its results, holding RUN_DIR's lock (one run, or one
    run per shard, at a time) and turning a failed write into a StorageError naming the file."""
    plan = make_plan(options)
    create_out_dir(options.out)
    lock = _lock(plan)
    try:
        return _work(plan)
    except OSError as exc:
        where = exc.filename or options.out
        raise StorageError(f"{where}: {exc.strerror or exc}; free space or fix permissions and rerun "
                           "(the features already cached are kept)") from None
    finally:
        lock.release()


def _lock(plan: Plan) -> BaseFileLock:
    """RUN_DIR's lock; a second run into it while one works is a usage error."""
    name = ".probe.lock" if not plan.partial else f".probe.{plan.shard.file_tag}.lock"
    try:
        return acquire(plan.options.out / name, 0, "use another --out")
    except TimeoutError:
        raise UsageError(f"another hear-byols probe is running into {plan.options.out}; wait for it to finish, "
                         "or use another --out (a shared --cache is safe)") from None


def _work(plan: Plan) -> list[ResultRow]:
    options = plan.options
    record = RunRecord(plan)
    timer = record.timer
    with timer.stage("hash"):
        staged = {cp.corpus.name: stage([clip.path for clip in cp.corpus.clips], plan.cache) for cp in plan.corpora}
    record.statistics = _statistics(plan, staged, timer)
    features = _requests(plan, staged, record.statistics)
    settings = _settings(plan)
    if not options.report_only:
        _fill(plan, features, settings, timer)
    if plan.partial:
        LOG.info("shard %s filled the cache in %s; after every shard, run again with --report-only for the report",
                 plan.shard.label, plan.cache)
        return []
    _check(plan, features, settings, staged)
    outcomes = _evaluate(plan, features, staged, timer, record)
    rows = table(outcomes, options.families)
    record.counts, record.folders = features.counts, features.folders
    skipped = sum(len(clips) for clips in record.unreadable.values())
    if skipped:
        LOG.warning("%d clip(s) could not be used and were skipped; listed with the reasons in %s", skipped,
                    options.out / "unreadable.txt")
    with timer.stage("report"):
        write_report(options.out, plan, rows, outcomes, staged, record)
    return rows


def _settings(plan: Plan) -> EmbedSettings:
    options = plan.options
    return EmbedSettings(dict(options.weights), options.precision, plan.device, plan.shard, options.workers,
                         options.batch_size)


def _statistics(plan: Plan, staged: dict[str, Staged], timer: StageTimer) -> dict[str, list[Any]]:
    """Per corpus, each fold's statistics: SERAB's fixed values, those of its training clips, or
    None (reference, per_clip and fixed need none)."""
    variants = [spec.variant for spec in plan.models if spec.variant]
    found: dict[str, list[Any]] = {}
    for cp in plan.corpora:
        links = staged[cp.corpus.name].links
        if cp.policy.kind != TRAIN or not variants:
            found[cp.corpus.name] = [cp.fixed] * len(cp.folds)
            continue
        with timer.stage("statistics"):
            found[cp.corpus.name] = [training_statistics(
                [links[cp.corpus.clips[i].path] for i in fold.train if cp.corpus.clips[i].path in links],
                variants[0], plan.cache, plan.options.workers) for fold in cp.folds]
    return found


def _requests(plan: Plan, staged: dict[str, Staged], statistics: dict[str, list[Any]]) -> Features:
    features = Features()
    for cp in plan.corpora:
        links = staged[cp.corpus.name].links
        listed = [links[clip.path] for clip in cp.corpus.clips if clip.path in links]
        for spec in plan.models:
            for index, stats in enumerate(statistics[cp.corpus.name]):
                if isinstance(stats, dict):
                    stats = (stats["mean"], stats["std"])
                option = None if spec.is_baseline else load_option(cp.policy, stats)
                features.requests[(spec.text, cp.corpus.name, index)] = FeatureRequest(spec, option, listed)
    return features


def _fill(plan: Plan, features: Features, settings: EmbedSettings, timer: StageTimer) -> None:
    done: set[tuple[str, str]] = set()
    for (model, corpus, _), request in features.requests.items():
        key = (model, repr(request.normalization) + corpus)
        if key in done:
            continue
        done.add(key)
        LOG.info("%s: features of %d clips of %s", model, len(request.links), corpus)
        counts = compute(plan.cache, request, settings, timer)
        total = features.counts.setdefault(model, {"written": 0, "skipped": 0, "failed": 0})
        for name, value in counts.items():
            total[name] += value


def _check(plan: Plan, features: Features, settings: EmbedSettings, staged: dict[str, Staged]) -> None:
    """Every request's folder and failed clips; a partial cache or NaN features are refused here,
    before any classifier runs."""
    folders: dict[tuple[str, str], Path] = {}
    for key, request in features.requests.items():
        model, corpus, _ = key
        option_key = (model, repr(request.normalization))
        if option_key not in folders:
            folders[option_key] = feature_folder(plan.cache, request, settings)
        features.folders[f"{model} {request.normalization}"] = str(folders[option_key])
        features.paths[key] = folders[option_key]
        features.failed[key] = check(folders[option_key], request, _names(staged[corpus]))


def _names(staged: Staged) -> list[str]:
    return [str(path) for path in staged.links]


def _evaluate(plan: Plan, features: Features, staged: dict[str, Staged], timer: StageTimer,
              record: RunRecord) -> list[FoldOutcome]:
    """Per corpus and model, every fold; one model's features in memory at a time (a fold's own
    statistics make its own matrix, read when that fold comes)."""
    outcomes = []
    for cp in plan.corpora:
        name = cp.corpus.name
        failed = failed_clips(cp.corpus, staged[name], features.failed)
        record.unreadable[name] = {str(cp.corpus.clips[i].path): why for i, why in failed.items()}
        folds = [usable_fold(cp.corpus, fold, failed) for fold in cp.folds]
        for spec in plan.models:
            loaded: dict[Path, FeatureMatrix] = {}
            for index, fold in enumerate(folds):
                key = (spec.text, name, index)
                folder = features.paths[key]
                if folder not in loaded:
                    loaded.clear()
                    loaded[folder] = read(folder, features.requests[key], _names(staged[name]))
                with timer.stage("grid search"):
                    outcomes.append(evaluate_fold(spec.text, cp.corpus, fold, loaded[folder], staged[name], plan.options))
    return outcomes
