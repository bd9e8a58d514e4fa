"""``hear-byols probe``: argparse and exit status only; the work is ``hear_byols.probe.run``
(docs/PROBE.md)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from hear_byols.argtypes import count
from hear_byols.exits import printable

#: the probe's splits and classifier families, named here so --help loads no scikit-learn (a test checks them)
SPLITS = ("serab", "speaker-kfold", "column")
FAMILY_NAMES = ("lda", "logreg", "qda", "rf", "svc")


def add_parser(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser(
        "probe", help="score embeddings and openSMILE baselines on labelled speech, speaker-independently (docs/PROBE.md)",
        description="SERAB's classifier protocol on a labelled table and/or public datasets in their native layouts: "
        "features cached per clip content, speaker-disjoint splits, five scikit-learn families tuned on validation. "
        "Writes results.csv/.md, plots, splits.csv and run.json into --out.",
    )
    data = probe.add_argument_group("corpus")
    data.add_argument("--labels", type=Path, metavar="TABLE", help="CSV/TSV with path, label, speaker (paths relative to it)")
    data.add_argument("--path-column", default="path", metavar="C")
    data.add_argument("--label-column", default="label", metavar="C")
    data.add_argument("--speaker-column", default="speaker", metavar="C")
    data.add_argument("--split-column", default=None, metavar="C", help="train/validation/test per clip (--split column)")
    data.add_argument("--fold-column", default=None, metavar="C", help="a fold id per clip (--split column)")
    data.add_argument("--dataset", action="extend", nargs="+", default=[], type=_pair, metavar="NAME=DIR",
                      help="public datasets in their native layouts (ravdess, crema_d, emodb, ...): "
                      "--dataset ravdess=DIR crema_d=DIR, or the option repeated")
    probe.add_argument("--models", nargs="+", required=True, metavar="MODEL",
                       help="variants, VARIANT:LAYER, egemaps, compare (e.g. default512 default512:conv3 egemaps)")
    probe.add_argument("--out", type=Path, required=True, metavar="RUN_DIR", help="where the report goes")
    probe.add_argument("--split", choices=SPLITS, default=None,
                       help="default: serab for --dataset, speaker-kfold for a table (column with a split/fold column)")
    probe.add_argument("--folds", type=count(2), default=5, metavar="K", help="speaker-kfold's K (default 5)")
    probe.add_argument("--normalization", default=None, metavar="POLICY",
                       help="serab|train|reference|per_clip|MEAN,STD|stats.json (default: serab for --dataset, "
                       "train for a table)")
    probe.add_argument("--no-speaker-norm", dest="speaker_norm", action="store_false",
                       help="do not z-score features per speaker (SERAB does, transductively)")
    probe.add_argument("--families", nargs="+", choices=FAMILY_NAMES, default=list(FAMILY_NAMES), metavar="FAMILY",
                       help=f"classifier families (default all: {' '.join(FAMILY_NAMES)})")
    probe.add_argument("--jobs", type=count(1), default=1, metavar="N", help="parallel grid-search fits (joblib)")
    probe.add_argument("--weights", action="append", default=[], type=_pair, metavar="VARIANT=FILE",
                       help="a checkpoint for a variant (default: its official weights); repeatable")
    probe.add_argument("--precision", default="float32", help="float32 (default), tf32, bf16 or fp16")
    probe.add_argument("--device", default=None, help="cpu (default), cuda or cuda:N")
    probe.add_argument("--workers", type=count(0), default=0, metavar="N", help="decoding processes (default 0)")
    probe.add_argument("--batch-size", type=count(1), default=1, metavar="B",
                       help="embed up to B clips of equal length per pass (default 1)")
    probe.add_argument("--cache", type=Path, default=None, metavar="DIR",
                       help="feature cache, shareable between runs (default: RUN_DIR/cache)")
    probe.add_argument("--shard", default=None, metavar="I/N|auto|all",
                       help="compute only shard I of N of the features (fills the cache, no report)")
    probe.add_argument("--report-only", action="store_true",
                       help="compute nothing: report from the cache, refusing clips without features")
    probe.set_defaults(run=run_probe)


def run_probe(args: argparse.Namespace) -> int:
    from hear_byols.probe import run
    from hear_byols.probe.runner import LOG

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    try:
        rows = run(args.out, models=args.models, labels=args.labels, datasets=_mapping(args.dataset, "--dataset"),
                   path_column=args.path_column, label_column=args.label_column, speaker_column=args.speaker_column,
                   split_column=args.split_column, fold_column=args.fold_column,
                   weights=_mapping(args.weights, "--weights"), cache=args.cache, split=args.split, folds=args.folds,
                   normalization=args.normalization, speaker_norm=args.speaker_norm, families=tuple(args.families),
                   jobs=args.jobs, precision=args.precision, device=args.device, shard=args.shard,
                   report_only=args.report_only, workers=args.workers, batch_size=args.batch_size)
    finally:
        LOG.removeHandler(handler)
    if rows:
        print(printable(f"hear-byols probe: {len(rows)} result rows in {args.out / 'results.md'}"), file=sys.stderr)
    return 0


def _pair(text: str) -> tuple[str, Path]:
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PATH")
    return name, Path(value)


def _mapping(pairs: list[tuple[str, Path]], option: str) -> dict[str, Path]:
    from hear_byols.errors import UsageError

    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise UsageError(f"{option}: each name once ({', '.join(names)})")
    return dict(pairs)
