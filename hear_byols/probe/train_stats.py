"""``--normalization train``: SERAB's statistic (mean of per-clip log-mel means, mean of per-clip
stds) of a fold's training clips, measured by ``hear_byols.stats.measure`` and cached by the
content of those clips, so a rerun, another shard or another model reuses it."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hear_byols.stats import measure
from hear_byols.storage.atomic import atomic_write_json

STATS_FOLDER = "stats"


def training_statistics(links: list[Path], variant: str, cache: Path, workers: int) -> dict[str, Any]:
    """``{"mean", "std", "pooled_mean", "pooled_std", "clips"}`` of ``links`` (a fold's training clips)."""
    key = hashlib.sha256(json.dumps([variant, sorted(link.name for link in links)]).encode()).hexdigest()[:20]
    path = cache / STATS_FOLDER / f"{variant}-{key}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            pass  # a damaged cache entry is measured again
    measured = measure([str(link) for link in links], variant=variant, workers=workers, shard="all")
    mean, std = measured.normalization("serab")
    pooled_mean, pooled_std = measured.normalization("pooled")
    values = {"mean": mean, "std": std, "pooled_mean": pooled_mean, "pooled_std": pooled_std,
              "clips": measured.clips, "silent_clips": measured.silent_clips, "failed": [list(f) for f in measured.failed]}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, values)
    return values
