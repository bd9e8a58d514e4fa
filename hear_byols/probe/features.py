"""The feature matrix of a corpus for one model: computed into the cache when missing (embeddings
through the engine, openSMILE baselines), then read back clip by clip.

Memory holds the features (clips x dimensions), never the audio: the engine and the baselines
decode one clip at a time. Reading refuses what a classifier must never see silently: a clip
neither computed nor recorded as failed (a partial cache, e.g. a shard still running) and
non-finite values (naming the files).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hear_byols.errors import UsageError
from hear_byols.probe import embeddings, smile
from hear_byols.probe.embeddings import EmbedSettings
from hear_byols.probe.modelspec import ModelSpec
from hear_byols.probe.timing import StageTimer

#: How many file names an error lists before saying how many more there are.
LISTED = 10


@dataclass
class FeatureMatrix:
    """Features of the clips that have them, in the order asked; ``rows[i]`` is the clip's position."""

    values: np.ndarray
    rows: list[int]
    failed: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeatureRequest:
    """One model with one normalisation option, over a corpus's linked clips."""

    spec: ModelSpec
    normalization: str | list[float] | None
    links: list[Path]


def feature_folder(cache: Path, request: FeatureRequest, settings: EmbedSettings) -> Path:
    """Where ``request``'s features are cached."""
    if request.spec.is_baseline:
        return smile.smile_folder(cache, request.spec.baseline or "")
    assert request.normalization is not None
    model = embeddings.open_model(request.spec, request.normalization, settings)
    return embeddings.embedding_folder(cache, request.spec, model, settings).path


def compute(cache: Path, request: FeatureRequest, settings: EmbedSettings, timer: StageTimer) -> dict[str, int]:
    """Fill the cache with this shard's share of ``request``'s features; returns the counts."""
    if request.spec.is_baseline:
        counts = smile.compute_baseline(request.links, request.spec.baseline or "",
                                        smile.smile_folder(cache, request.spec.baseline or ""), settings.shard)
        timer.add("decode", counts.decode_s)
        timer.add("opensmile", counts.compute_s)
        return {"written": counts.written, "skipped": counts.skipped, "failed": counts.failed}
    assert request.normalization is not None
    with timer.stage("embed"):
        model = embeddings.open_model(request.spec, request.normalization, settings)
        folder = embeddings.embedding_folder(cache, request.spec, model, settings)
        return embeddings.embed_links(request.links, model, folder, settings)


def check(folder: Path, request: FeatureRequest, names: list[str]) -> dict[int, str]:
    """The positions of ``request.links`` whose clip failed, with the reason; refuses a clip neither
    computed nor failed (a partial cache) and non-finite features, naming the files. Reads each
    file once and keeps nothing, so every model is checked before any classifier runs."""
    failures = (smile.failed_outputs if request.spec.is_baseline else embeddings.failed_outputs)(folder)
    failed, missing, non_finite = {}, [], []
    for position, link in enumerate(request.links):
        output = link.name + ".npy"
        if (folder / output).is_file():
            if not np.isfinite(_load(folder / output, names[position])).all():
                non_finite.append(names[position])
        elif output in failures:
            failed[position] = failures[output]
        else:
            missing.append(names[position])
    if missing:
        raise UsageError(
            f"{request.spec.text}: {len(missing)} clip(s) have no cached features in {folder}: {_listed(missing)}; "
            "run the probe without --report-only (or wait for every --shard to finish) to compute them"
        )
    if non_finite:
        raise UsageError(
            f"{request.spec.text}: the features of {len(non_finite)} clip(s) have NaN or Inf values: "
            f"{_listed(non_finite)}; check these files (silence, clipping, too short for the feature set) and "
            "leave them out of the corpus"
        )
    return failed


def read(folder: Path, request: FeatureRequest, names: list[str]) -> FeatureMatrix:
    """The cached features of ``request.links`` (``names``: each link's clip, for messages), checked."""
    failed = check(folder, request, names)
    rows = [position for position in range(len(request.links)) if position not in failed]
    arrays = [_load(folder / (request.links[row].name + ".npy"), names[row]) for row in rows]
    values = np.stack(arrays) if arrays else np.zeros((0, 0), np.float32)
    return FeatureMatrix(values, rows, failed)


def _load(path: Path, name: str) -> np.ndarray:
    try:
        array = np.load(path)
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"{path} (features of {name}) is damaged ({exc}); delete it and rerun to recompute it") from None
    return array.reshape(-1)


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f" and {len(names) - LISTED} more" if len(names) > LISTED else "")
