"""``stats.json``: a corpus's log-mel statistics as ``hear-byols stats`` writes them and every
``--normalization`` reads them.

The file records the frontend its log-mels came from (``frontend_description``): statistics of
other log-mels (another hop, band count or floor) would shift every normalised value, silently,
so loading checks it against the model's. It keeps the raw sums (``accumulator``) beside the two
statistics, so shards' parts merge exactly. Here, below the model, lives only the file format;
measuring audio is ``hear_byols.stats``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hear_byols.errors import InvalidOptionError
from hear_byols.logmel.frontend import LOG_EPS, FrontendSpec
from hear_byols.storage.atomic import atomic_write, json_bytes

FORMAT = "hear-byols log-mel statistics"
VERSION = 1
#: The statistics a file holds; the first is the default (docs/STATS.md says why).
STATISTICS = ("serab", "pooled")
DEFAULT_STATISTIC = STATISTICS[0]
_TOP_KEYS = ("format", "version", "normalization", "default", "statistics", "counts", "failed", "frontend",
             "variant", "corpus_sha256", "listing_sha256", "shard", "versions", "accumulator")


def frontend_description(spec: FrontendSpec | dict[str, Any]) -> dict[str, Any]:
    """Every parameter that shapes a log-mel value: the variant's config plus what the frontend
    fixes (window, padding, power, mel scale, log floor), in JSON types."""
    if isinstance(spec, dict):
        return dict(spec)
    return {"sample_rate": spec.sample_rate, "n_fft": spec.n_fft, "win_length": spec.win_length,
            "window": "hann, periodic, centred in n_fft", "hop_length": spec.hop_length,
            "center": "reflect, n_fft // 2 each side", "power": 2, "n_mels": spec.n_mels,
            "f_min": float(spec.f_min), "f_max": float(spec.f_max), "mel_scale": "htk", "mel_norm": None,
            "log": "log(mel + eps)", "eps": LOG_EPS}


@dataclass(frozen=True)
class CorpusStats:
    """What ``stats.json`` (or a shard's part of it) holds."""

    #: None only in a shard's part that measured no clip
    pooled: tuple[float, float] | None
    serab: tuple[float, float] | None
    default: str
    clips: int
    frames: int
    seconds: float
    frontend: dict[str, Any]
    corpus_sha256: str
    versions: dict[str, str]
    silent_clips: int = 0
    #: ``(input, reason)`` of each file that could not be measured
    failed: tuple[tuple[str, str], ...] = ()
    variant: str | None = None
    #: sha256 over the sorted names of every file listed (all shards list the same corpus)
    listing_sha256: str | None = None
    #: ``"I/N"`` for shard I's part of N, None for a whole corpus
    shard: str | None = None
    #: ``LogMelStats.state()``: the raw sums a merge adds
    accumulator: dict[str, Any] = field(default_factory=dict, compare=False)

    def normalization(self, which: str | None = None) -> list[float]:
        """``[mean, std]`` of statistic ``which`` (default: the file's), for ``load_model``."""
        which = self.default if which is None else which
        if which not in STATISTICS:
            raise InvalidOptionError(f"statistic {which!r}: choose one of {', '.join(STATISTICS)}")
        values = getattr(self, which)
        if values is None:
            raise InvalidOptionError(f"shard {self.shard}'s part measured no clip: it has no statistics of its own")
        return list(values)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "normalization": self.normalization() if self.clips else None,
            "default": self.default,
            "statistics": {name: _stat_json(getattr(self, name)) for name in STATISTICS},
            "counts": {"clips": self.clips, "frames": self.frames, "seconds": self.seconds,
                       "silent_clips": self.silent_clips, "failed_files": len(self.failed)},
            "failed": [{"input": name, "reason": reason} for name, reason in self.failed],
            "frontend": self.frontend, "variant": self.variant, "corpus_sha256": self.corpus_sha256,
            "listing_sha256": self.listing_sha256, "shard": self.shard, "versions": self.versions,
            "accumulator": self.accumulator,
        }

    def write(self, path: str | os.PathLike[str]) -> None:
        """Write atomically: a full disk or a kill leaves the old file or none, never half of one."""
        data = json_bytes(self.to_json())
        atomic_write(Path(path), lambda fh: fh.write(data))


def load_stats(path: str | os.PathLike[str], *, frontend: FrontendSpec | dict[str, Any] | None = None) -> CorpusStats:
    """Read and check ``stats.json`` (format, keys, finite values, std > 0, positive counts) and,
    when ``frontend`` is given, that its log-mels came from that frontend. InvalidOptionError
    naming the file and the problem otherwise."""
    return read_stats(path, frontend=frontend)[0]


def read_stats(path: str | os.PathLike[str], *, frontend: FrontendSpec | dict[str, Any] | None = None,
               part: bool = False, owner: str = "the model") -> tuple[CorpusStats, str]:
    """``load_stats`` and the sha256 of the file's bytes; ``part``: a shard's part is expected;
    ``owner`` names whose ``frontend`` it is in errors."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidOptionError(f"statistics file {path} does not exist; measure it with hear-byols stats "
                                 "DATA... --out FILE") from None
    except OSError as exc:
        raise InvalidOptionError(f"statistics file {path} cannot be read ({exc.strerror or exc})") from None
    try:
        stats = _from_json(json.loads(data.decode("utf-8")), part)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidOptionError(f"statistics file {path} is not a valid hear-byols stats file ({exc}): truncated "
                                 "or edited? Measure it again with hear-byols stats") from None
    if stats.shard is not None and not part:
        raise InvalidOptionError(f"{path} is shard {stats.shard}'s part of the statistics, not the whole corpus's: "
                                 "merge the parts with hear-byols stats --merge OUT and use OUT")
    if frontend is not None:
        require_frontend(stats.frontend, frontend_description(frontend), f"{path}", owner)
    return stats, hashlib.sha256(data).hexdigest()


def require_frontend(found: dict[str, Any], expected: dict[str, Any], what: str, other: str) -> None:
    """InvalidOptionError naming both frontends' differing parameters when ``found != expected``."""
    if found == expected:
        return
    keys = sorted(set(found) | set(expected))
    diff = "; ".join(f"{key}: {found.get(key)!r} vs {expected.get(key)!r}"
                     for key in keys if found.get(key) != expected.get(key))
    raise InvalidOptionError(f"{what} was measured with another log-mel frontend than {other} uses ({diff}); "
                             f"measure the statistics again with the same frontend (hear-byols stats --model VARIANT)")


def _stat_json(values: tuple[float, float] | None) -> dict[str, float] | None:
    return None if values is None else {"mean": values[0], "std": values[1]}


def _from_json(raw: Any, part: bool) -> CorpusStats:
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ValueError(f'"format" is not {FORMAT!r}')
    if type(raw.get("version")) is not int or raw["version"] != VERSION:
        raise ValueError(f"version {raw.get('version')!r}; this hear_byols reads version {VERSION}")
    missing = [key for key in _TOP_KEYS if key not in raw]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    if raw["default"] not in STATISTICS:
        raise ValueError(f'"default" {raw["default"]!r} is not one of {", ".join(STATISTICS)}')
    counts = raw["counts"]
    empty = part and raw["shard"] is not None and counts["clips"] == 0  # a shard may own no measurable clip
    statistics = {name: None if empty else _mean_std(raw["statistics"][name], name) for name in STATISTICS}
    for key in ("clips", "frames", "silent_clips", "failed_files"):
        if type(counts[key]) is not int or counts[key] < (1 if key in ("clips", "frames") and not empty else 0):
            raise ValueError(f"counts.{key} {counts[key]!r} is not a valid count")
    seconds = counts["seconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not (seconds > 0 or empty and seconds == 0):
        raise ValueError(f"counts.seconds {seconds!r} is not a positive number")
    if not isinstance(raw["frontend"], dict) or not isinstance(raw["accumulator"], dict):
        raise ValueError('"frontend" and "accumulator" must be objects')
    if not re.fullmatch(r"[0-9a-f]{64}", str(raw["corpus_sha256"])):
        raise ValueError(f"corpus_sha256 {raw['corpus_sha256']!r} is not 64 hex digits")
    if raw["shard"] is not None and not re.fullmatch(r"\d+/\d+", str(raw["shard"])):
        raise ValueError(f"shard {raw['shard']!r} is not I/N")
    accumulated = {key: raw["accumulator"].get(key) for key in ("clips", "frames", "silent")}
    if accumulated != {"clips": counts["clips"], "frames": counts["frames"], "silent": counts["silent_clips"]}:
        raise ValueError(f"the accumulator's counts {accumulated} differ from counts")
    chosen = statistics[raw["default"]]
    if raw["normalization"] != (None if chosen is None else list(chosen)):
        raise ValueError(f'"normalization" {raw["normalization"]!r} is not statistics.{raw["default"]} {chosen}: '
                         "edited by hand? Pick a statistic with CorpusStats.normalization(which)")
    failed = tuple((str(row["input"]), str(row["reason"])) for row in raw["failed"])
    if len(failed) != counts["failed_files"]:
        raise ValueError(f"counts.failed_files {counts['failed_files']} but {len(failed)} rows in failed")
    return CorpusStats(
        pooled=statistics["pooled"], serab=statistics["serab"], default=raw["default"], clips=counts["clips"],
        frames=counts["frames"], seconds=float(counts["seconds"]), frontend=raw["frontend"],
        corpus_sha256=str(raw["corpus_sha256"]), versions=dict(raw["versions"]), silent_clips=counts["silent_clips"],
        failed=failed, variant=raw["variant"], listing_sha256=raw["listing_sha256"], shard=raw["shard"],
        accumulator=raw["accumulator"],
    )


def _mean_std(raw: Any, name: str) -> tuple[float, float]:
    mean, std = raw["mean"], raw["std"]
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (mean, std)):
        raise ValueError(f"statistics.{name}: mean and std must be numbers")
    if not (math.isfinite(mean) and math.isfinite(std) and std > 0):
        raise ValueError(f"statistics.{name}: mean {mean!r}, std {std!r} (must be finite, std > 0)")
    return float(mean), float(std)

