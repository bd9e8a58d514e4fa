"""``--normalization``: which log-mel statistics the embeddings of a fold are computed with.

- ``serab``: SERAB's fixed per-dataset statistics (``settings.py`` ``CLF_STATS_DICT``), keyed by
  the corpus's SERAB name; only for the datasets SERAB measured.
- ``train``: the same statistic (mean of per-clip means, mean of per-clip stds) measured on the
  fold's training clips only (``hear_byols.stats.measure``), so no test clip shapes its own
  features. Each fold then has its own statistics, hence its own embeddings (cached).
- ``reference`` / ``per_clip``: the HEAR behaviours of ``load_model``.
- ``MEAN,STD`` or a ``stats.json`` written by ``hear-byols stats``: fixed statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.logmel.normalization import names_stats_file, parse_normalization

#: SERAB's ``CLF_STATS_DICT`` (mean, std of the log-mel), by SERAB's dataset key.
SERAB_STATS: dict[str, tuple[float, float]] = {
    "aesdd": (-4.1785, 4.3656),
    "cafe": (-7.9732, 5.1123),
    "crema_d": (-4.9937, 3.1366),
    "emodb": (-2.6927, 4.1031),
    "emovo": (-6.7016, 4.6194),
    "iem4": (-5.7522, 3.4033),
    "ravdess": (-10.3203, 4.9996),
    "savee": (-7.3621, 4.7177),
    "shemo": (-3.5332, 4.0279),
}
SERAB, TRAIN, REFERENCE, PER_CLIP, FIXED = "serab", "train", "reference", "per_clip", "fixed"


@dataclass(frozen=True)
class Policy:
    """A parsed ``--normalization``; ``mean``/``std`` only for ``fixed``."""

    kind: str
    mean: float | None = None
    std: float | None = None

    @property
    def label(self) -> str:
        return f"{self.mean:g},{self.std:g}" if self.kind == FIXED else self.kind


def parse_policy(text: str) -> Policy:
    """``serab``, ``train``, ``reference``, ``per_clip``, ``MEAN,STD`` or a stats.json path."""
    value = text.strip()
    if value in (SERAB, TRAIN, REFERENCE, PER_CLIP):
        return Policy(value)
    if "," in value and not Path(value).exists():
        parts = value.split(",")
        try:
            mean, std = (float(part) for part in parts) if len(parts) == 2 else (math.nan, math.nan)
        except ValueError:
            mean = std = math.nan
        return _fixed([mean, std], text)
    if names_stats_file(value):
        return _fixed(value, text)  # a stats.json of hear-byols stats: its default statistic
    raise InvalidOptionError(
        f"--normalization {text!r}: use serab, train, reference, per_clip, MEAN,STD or the path of a stats.json "
        "written by hear-byols stats"
    )


def _fixed(values: list[float] | str, text: str) -> Policy:
    try:
        parsed = parse_normalization(values)
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"--normalization {text!r}: {exc}") from None
    return Policy(FIXED, parsed.mean, parsed.std)


def serab_statistics(serab_key: str | None, corpus_name: str) -> tuple[float, float]:
    """SERAB's fixed statistics for a corpus; UsageError when SERAB measured none for it."""
    if serab_key is None or serab_key not in SERAB_STATS:
        raise UsageError(
            f"--normalization serab: SERAB has no statistics for {corpus_name!r} (it has them for "
            f"{', '.join(sorted(SERAB_STATS))}); use --normalization train (statistics of each fold's training "
            "clips), MEAN,STD, or a stats.json"
        )
    return SERAB_STATS[serab_key]


def load_option(policy: Policy, statistics: tuple[float, float] | None) -> str | list[float]:
    """The ``load_model(normalization=...)`` value for ``policy`` (``statistics`` for serab/train)."""
    if policy.kind in (REFERENCE, PER_CLIP):
        return policy.kind
    if policy.kind == FIXED:
        return [float(policy.mean), float(policy.std)]  # type: ignore[arg-type]
    assert statistics is not None, f"{policy.kind} statistics are measured or looked up before loading"
    return [float(statistics[0]), float(statistics[1])]
