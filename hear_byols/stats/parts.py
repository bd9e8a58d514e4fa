"""Shards' parts of ``stats.json`` and their exact merge.

A shard ``I/N`` writes ``OUT.part-I-of-N.json`` (``part_path``): the same format with ``shard``
set and the raw sums in ``accumulator``. ``merge_parts`` adds the sums (Chan's merge of the
pooled moments, plain sums of the per-clip means and stds, counts, seconds, failures, and the
corpus digest modulo 2**256) and writes ``OUT``; it refuses parts of different N, a missing part
(named), parts of different frontends or of different listings of the corpus (a stale part of an
earlier run). Parts are kept, so a merge can be repeated; each shard's run replaces its own.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

from hear_byols.distributed import Shard
from hear_byols.errors import HearByolsError, UsageError
from hear_byols.extract.shards import WHOLE
from hear_byols.logmel.corpus_stats import LogMelStats
from hear_byols.logmel.stats_file import CorpusStats, read_stats, require_frontend
from hear_byols.stats.measure import DIGEST_MODULUS, Measured, corpus_stats


def part_path(out: Path, shard: Shard) -> Path:
    """``stats.json`` -> ``stats.json.part-2-of-8.json``, beside it."""
    return out.with_name(f"{out.name}.part-{shard.tag}.json")


def found_parts(out: Path) -> dict[Shard, Path]:
    """The parts of ``out`` on disk, by shard."""
    pattern = re.compile(re.escape(out.name) + r"\.part-(\d+)-of-(\d+)\.json")
    parts = {}
    for path in sorted(out.parent.glob(f"{out.name}.part-*-of-*.json")):
        match = pattern.fullmatch(path.name)
        if match and int(match[1]) < int(match[2]):
            parts[Shard(int(match[1]), int(match[2]))] = path
    return parts


def complete(out: Path, count: int) -> bool:
    """Whether all ``count`` parts of ``out`` exist (and no part of another count)."""
    parts = found_parts(out)
    return {shard.count for shard in parts} == {count} and len(parts) == count


def merge_parts(out: Path) -> CorpusStats:
    """The statistics of every part of ``out`` merged (the caller writes them to ``out``)."""
    parts = found_parts(out)
    if not parts:
        raise UsageError(f"no parts of {out} found (files named {out.name}.part-I-of-N.json beside it): run "
                         "hear-byols stats DATA... --out with --shard I/N first")
    counts = sorted({shard.count for shard in parts})
    if len(counts) > 1:
        listing = "; ".join(f"N={n}: " + ", ".join(p.name for s, p in parts.items() if s.count == n) for n in counts)
        raise UsageError(f"parts of {out} from runs with different shard counts ({listing}); delete the parts of "
                         "the run you do not want, then merge again")
    count = counts[0]
    missing = [part_path(out, Shard(index, count)).name for index in range(count) if Shard(index, count) not in parts]
    if missing:
        raise UsageError(f"{len(missing)} of {count} parts of {out} are missing: {', '.join(missing)}; run those "
                         "shards (--shard I/N) first, then merge again")
    read = [_read_part(parts[Shard(index, count)], Shard(index, count)) for index in range(count)]
    return corpus_stats(_merged(read), read[0].frontend, variant=read[0].variant,
                        listing_sha256=read[0].listing_sha256, shard=WHOLE, versions_used=read[0].versions)


def _read_part(path: Path, shard: Shard) -> CorpusStats:
    stats = read_stats(path, part=True)[0]
    if stats.shard != shard.label:
        raise UsageError(f"{path} holds shard {stats.shard}'s statistics, not {shard.label} as its name says; "
                         "it was renamed: delete it and rerun that shard")
    try:
        sums = LogMelStats.from_state(stats.accumulator)
        agree = stats.clips == 0 or all(
            math.isclose(got, want, rel_tol=1e-12) for got, want in zip(sums.pooled + sums.serab, stats.pooled + stats.serab)
        )
    except HearByolsError as exc:
        raise UsageError(f"{path}: {exc}; rerun that shard") from None
    if not agree:
        raise UsageError(f"{path}: its accumulator does not give its statistics (edited by hand?); rerun that shard")
    return stats


def _merged(parts: list[CorpusStats]) -> Measured:
    """The parts' sums added up, after checking they measured one corpus with one frontend."""
    first = parts[0]
    measured = Measured()
    for part in parts:
        require_frontend(part.frontend, first.frontend, f"shard {part.shard}'s part", f"shard {first.shard}'s")
        if part.listing_sha256 != first.listing_sha256:
            raise UsageError(f"shards {first.shard} and {part.shard} listed different files (a stale part of an "
                             "earlier run, or files added while the shards ran): rerun every shard with the same DATA")
        measured.stats.merge(LogMelStats.from_state(part.accumulator))
        measured.seconds += part.seconds
        measured.digest = (measured.digest + int(part.corpus_sha256, 16)) % DIGEST_MODULUS
        measured.failed.extend(part.failed)
    return measured
