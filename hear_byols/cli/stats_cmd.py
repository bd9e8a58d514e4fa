"""``hear-byols stats``: log-mel normalisation statistics of a corpus (docs/STATS.md).

``hear-byols stats DATA... --out stats.json`` measures; under a shard (``--shard I/N|auto``,
torchrun, a SLURM array with ``--shard auto``) it writes ``stats.json.part-I-of-N.json`` and the
shard that finds every part present merges them into ``stats.json``; ``hear-byols stats --merge
stats.json`` merges by hand. Exit status: 0 done; 1 a file could not be measured (the others
were), the corpus gave no usable statistics, the file could not be written, or a shard's part
is written but the parts do not merge; 2 a usage error before any work (``--merge`` of parts
that are missing, of mixed N or damaged, too).
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from hear_byols.argtypes import count
from hear_byols.distributed import Shard, parse_shard
from hear_byols.errors import HearByolsError, StatisticsError, StorageError, UsageError
from hear_byols.exits import printable
from hear_byols.extract.shards import parse_shard_option
from hear_byols.logmel.stats_file import CorpusStats
from hear_byols.variants import variant_names


def add_parser(commands: argparse._SubParsersAction) -> None:
    stats = commands.add_parser(
        "stats", help="measure log-mel normalisation statistics of a corpus (for --normalization stats.json)",
        description="Measure the log-mel statistics of audio files (found, decoded and resampled as by embed): the "
        "pooled mean/std over all log-mel bins and SERAB's (mean of per-clip means and stds). Use the file as "
        "--normalization stats.json (embed, load_model, export, stream, probe). docs/STATS.md",
    )
    stats.add_argument("paths", nargs="*", metavar="DATA", help="audio files, directories (recursive) or quoted globs")
    stats.add_argument("--out", type=Path, default=None, metavar="FILE", help="the statistics file to write (a .json)")
    stats.add_argument("--merge", type=Path, default=None, metavar="FILE",
                       help="instead of measuring: merge the shards' parts FILE.part-I-of-N.json into FILE")
    stats.add_argument("--model", choices=variant_names(), default="default",
                       help="the variant whose log-mel frontend is measured (default: default; all share one today)")
    stats.add_argument("--workers", type=count(0), default=0, metavar="N",
                       help="processes decoding and resampling ahead of the frontend (default 0: in this process)")
    stats.add_argument("--shard", type=_shard, default=None, metavar="I/N|auto|all",
                       help="measure only shard I of N (0-based) into FILE.part-I-of-N.json, as embed shards; auto: "
                       "the shard torchrun or a SLURM array gives; all: every file")
    stats.add_argument("--quiet", action="store_true", help="only failures and the summary")
    stats.set_defaults(run=run_stats)


def _shard(text: str) -> object:
    try:
        return parse_shard_option(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run_stats(args: argparse.Namespace) -> int:
    from hear_byols.stats.measure import LOG, measure
    from hear_byols.stats.parts import complete, merge_parts, part_path

    with _logging_to_stderr(LOG, args.quiet):
        if args.merge is not None:
            if args.paths or args.out is not None:
                raise UsageError("--merge FILE merges the parts of FILE: pass no DATA and no --out with it")
            _require_writable(args.merge)
            _write(merge_parts(args.merge), args.merge, "merged the parts into")
            return 0
        if not args.paths or args.out is None:
            raise UsageError("name the audio (DATA...) and the file to write (--out stats.json), or --merge FILE")
        _require_writable(args.out)
        stats = measure(args.paths, variant=args.model, workers=args.workers, shard=args.shard)
        if stats.shard is None:
            _write(stats, args.out, "wrote")
        else:
            shard = parse_shard(stats.shard)
            _write(stats, part_path(args.out, shard), f"shard {shard.label}: wrote")
            if complete(args.out, shard.count):
                _write(_merge_after_shard(args.out, shard), args.out, f"every part present: merged the {shard.count} parts into")
            else:
                print(printable(f"hear-byols stats: waiting for the other shards' parts; the last shard to finish "
                                f"merges them (or run hear-byols stats --merge {args.out})"), file=sys.stderr)
    return 1 if stats.failed else 0


def _merge_after_shard(out: Path, shard: Shard) -> CorpusStats:
    """The merge a shard attempts once every part is present: its own work is done and kept, so
    a merge that fails is a failure (exit 1), not a usage error."""
    from hear_byols.stats.parts import merge_parts

    try:
        return merge_parts(out)
    except HearByolsError as exc:
        raise StatisticsError(f"shard {shard.label}'s part is written, but the parts cannot be merged: {exc}") from None


def _require_writable(out: Path) -> None:
    """A usage error before any work when ``out`` cannot be the file written."""
    if out.is_dir():
        raise UsageError(f"{out} is a directory; name the statistics file to write, e.g. {out / 'stats.json'}")
    parent = next((p for p in (out.parent, *out.parent.parents) if p.exists()), Path("."))
    if not parent.is_dir():
        raise UsageError(f"cannot write {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write {out}: {parent} is not writable; name a writable location")


def _write(stats: CorpusStats, path: Path, what: str) -> None:
    """Write ``stats`` atomically and print the summary line; StorageError (exit 1) when the
    disk refuses (full, read-only): the old file, or none, stays."""
    try:
        stats.write(path)
    except OSError as exc:
        raise StorageError(f"cannot write {path} ({exc.strerror or exc}); nothing was written: free some space "
                           "or name another location, then rerun") from None
    print(printable(f"hear-byols stats: {what} {path}: {summary(stats)}"), file=sys.stderr)


def summary(stats: CorpusStats) -> str:
    """``48 clips (144.0 s, 1 silent left out, 2 failed); serab mean ... std ... (default); pooled ...``."""
    counts = f"{stats.clips} clips ({stats.seconds:.1f} s, {stats.silent_clips} silent left out, {len(stats.failed)} failed)"
    values = [f"{name} mean {values[0]:.6g} std {values[1]:.6g}" + (" (default)" if name == stats.default else "")
              for name, values in (("serab", stats.serab), ("pooled", stats.pooled)) if values is not None]
    return "; ".join([counts, *values])


@contextlib.contextmanager
def _logging_to_stderr(log: logging.Logger, quiet: bool) -> Iterator[None]:
    """The measurement's lines (failures always; shard and silent files unless ``quiet``) on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.addHandler(handler)
    try:
        yield
    finally:
        log.removeHandler(handler)
