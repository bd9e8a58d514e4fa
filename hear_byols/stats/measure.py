"""``measure``: the log-mel statistics of a corpus of audio files (what ``hear-byols stats`` runs).

Files are found as ``embed`` finds them (``audio/inputs.py``), decoded and resampled to 16 kHz
by the engine's decode path (``extract/decode.py``: ``workers`` processes ahead of the frontend)
and, with a shard, split as ``embed`` splits them (``extract/shards.py``: by a hash of each
file's relative name). Each file's log-mel is computed by the variant's frontend on the CPU in
float32, as the model computes it, and added to a ``LogMelStats`` (float64). A file that cannot
be read or is too short is recorded with its reason and the others go on; a constant (silent)
clip is counted and left out (``corpus_stats.py``).
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import hear_byols
from hear_byols.audio.files import TARGET_RATE
from hear_byols.audio.inputs import InputFile, expand_inputs
from hear_byols.distributed import Shard
from hear_byols.errors import AudioFileError, InvalidOptionError, StatisticsError
from hear_byols.extract.decode import decoded_files
from hear_byols.extract.failures import FILE_ERRORS
from hear_byols.extract.shards import choose_shard, parse_shard_option, select
from hear_byols.logmel.corpus_stats import LogMelStats
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.logmel.normalization import describes_constant
from hear_byols.logmel.stats_file import DEFAULT_STATISTIC, CorpusStats, frontend_description
from hear_byols.variants import variant_spec

LOG = logging.getLogger("hear_byols.stats")
#: The corpus digest is a sum of per-file hashes modulo this: order-free, so shards' digests add up.
DIGEST_MODULUS = 1 << 256


@dataclass
class Measured:
    """What one process measured: the sums, and the files behind them."""

    stats: LogMelStats = field(default_factory=LogMelStats)
    seconds: float = 0.0
    digest: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    silent: list[str] = field(default_factory=list)


def measure(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    *,
    variant: str = "default",
    workers: int = 0,
    shard: Shard | str | None = None,
) -> CorpusStats:
    """Log-mel statistics of the audio files ``paths`` names (files, folders, globs, as ``embed``).

    ``variant``: whose frontend makes the log-mels (all variants share one today; the file
    records it). ``workers``: decoding processes (0: this one). ``shard``: ``Shard``, ``"I/N"``,
    ``"auto"``, ``"all"`` or None, as ``embed_files`` takes it; a shard of more than one gives a
    part (``CorpusStats.shard`` set) for ``merge_parts``. StatisticsError when the corpus (not a
    shard's part) gives no usable statistics.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise InvalidOptionError(f"workers={workers!r}: expected an integer >= 0")
    spec = variant_spec(variant).frontend
    chosen, source = choose_shard(parse_shard_option(shard) if isinstance(shard, str) else shard)
    items = expand_inputs(_arguments(paths))
    mine = select(items, chosen)
    LOG.info("shard %s (%s): %d of %d files", chosen.label, source, len(mine), len(items))
    measured = measure_files(mine, LogMelFrontend(spec), workers)
    return corpus_stats(measured, frontend_description(spec), variant=variant,
                        listing_sha256=listing_digest(items), shard=chosen)


def _arguments(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(path) for path in paths]


def measure_files(items: list[InputFile], frontend: LogMelFrontend, workers: int) -> Measured:
    """Decode and measure ``items`` in order, recording each failure and silent clip."""
    measured = Measured()
    for decoded in decoded_files([item.path for item in items], workers):
        item = items[decoded.position]
        try:
            if decoded.error is not None:
                raise decoded.error
            assert decoded.samples is not None and decoded.input is not None
            included = measured.stats.add(clip_log_mel(frontend, decoded.samples, item.path))
        except FILE_ERRORS as exc:
            reason = str(exc).removeprefix(f"{item.path}: ")
            if not isinstance(exc, hear_byols.errors.HearByolsError):
                reason = f"{type(exc).__name__}: {reason}"
            measured.failed.append((str(item.path), reason))
            LOG.warning("FAILED %s: %s", item.path, reason)
            continue
        measured.digest = (measured.digest + file_digest(item, decoded.input.sha256)) % DIGEST_MODULUS
        if included:
            measured.seconds += len(decoded.samples) / TARGET_RATE
        else:
            measured.silent.append(str(item.path))
            LOG.info("silent, left out: %s (its log-mel is constant)", item.path)
    return measured


def clip_log_mel(frontend: LogMelFrontend, samples: torch.Tensor, path: Path) -> torch.Tensor:
    """``(n_mels, T)`` float32 log-mel of one clip's 16 kHz samples, as the model computes it."""
    if len(samples) < frontend.spec.min_samples:
        raise AudioFileError(f"{path}: {len(samples)} samples at 16 kHz, fewer than the {frontend.spec.min_samples} "
                             "one STFT frame needs: too short to measure")
    with torch.inference_mode():
        return frontend(samples.float())


def file_digest(item: InputFile, sha256: str) -> int:
    """One file's term of the corpus digest: its relative name and its content."""
    text = os.fsencode(item.relative.as_posix()) + b"\0" + sha256.encode("ascii")
    return int.from_bytes(hashlib.sha256(text).digest(), "big")


def listing_digest(items: list[InputFile]) -> str:
    """sha256 of every listed file's relative name, sorted: equal for shards that listed one corpus."""
    names = sorted(os.fsencode(item.relative.as_posix()) for item in items)
    return hashlib.sha256(b"\n".join(names)).hexdigest()


def versions() -> dict[str, str]:
    return {"hear_byols": hear_byols.__version__, "torch": torch.__version__, "numpy": np.__version__}


def corpus_stats(measured: Measured, frontend: dict, *, variant: str | None, listing_sha256: str | None,
                 shard: Shard, versions_used: dict[str, str] | None = None) -> CorpusStats:
    """The ``CorpusStats`` of ``measured``; a whole corpus must give usable statistics."""
    stats = measured.stats
    part = shard.count > 1
    if not part:
        require_usable(stats, len(measured.failed))
    return CorpusStats(
        pooled=stats.pooled if stats.clips else None, serab=stats.serab if stats.clips else None,
        default=DEFAULT_STATISTIC, clips=stats.clips, frames=stats.frames, seconds=measured.seconds,
        frontend=frontend, corpus_sha256=f"{measured.digest:064x}", versions=versions_used or versions(),
        silent_clips=stats.silent, failed=tuple(measured.failed), variant=variant, listing_sha256=listing_sha256,
        shard=shard.label if part else None, accumulator=stats.state(),
    )


def require_usable(stats: LogMelStats, failed: int) -> None:
    """StatisticsError unless both statistics are finite, with a std that is not a constant's."""
    if stats.clips == 0:
        raise StatisticsError(
            f"no clip could be measured ({failed} failed, {stats.silent} silent: constant log-mels): there are "
            "no statistics to write; check the files listed above"
        )
    for name, (mean, std) in (("pooled", stats.pooled), ("serab", stats.serab)):
        if not (np.isfinite(mean) and np.isfinite(std) and std > 0) or describes_constant(mean, std):
            raise StatisticsError(f"the {name} statistics are degenerate (mean {mean!r}, std {std!r}): not written")
