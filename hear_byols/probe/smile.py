"""openSMILE baselines (``egemaps``: eGeMAPSv02 functionals, 88; ``compare``: ComParE_2016, 6,373),
cached like the embeddings: one ``.npy`` per clip content, written atomically, in a folder named
by the feature set and the openSMILE version.

Clips are decoded with the package's reader (mono, 16 kHz, as the embeddings see them). A clip
that cannot be decoded gets a ``.failed`` note with the reason, so a later report lists it
instead of taking it for a clip still to compute. NaN functionals are kept as computed: the run
refuses them, naming the files, rather than inventing values.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hear_byols.audio.files import TARGET_RATE, read_audio_16k
from hear_byols.audio.inputs import InputFile
from hear_byols.distributed import Shard
from hear_byols.errors import AudioFileError, UsageError
from hear_byols.extract.shards import owns
from hear_byols.pretraining.objectives import hybrid
from hear_byols.probe.modelspec import BASELINES
from hear_byols.storage.atomic import atomic_write, save_npy

FAILED_SUFFIX = ".failed"


@dataclass
class SmileCounts:
    """What one baseline pass did, and where its time went."""

    written: int = 0
    skipped: int = 0
    failed: int = 0
    decode_s: float = 0.0
    compute_s: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)


def smile_folder(cache: Path, baseline: str) -> Path:
    """``CACHE/<baseline>-opensmile<version>``: another openSMILE may compute other values."""
    return cache / f"{baseline}-opensmile{require_opensmile().__version__}"


def compute_baseline(links: list[Path], baseline: str, folder: Path, shard: Shard) -> SmileCounts:
    """Compute the functionals of this shard's share of ``links`` not cached yet."""
    folder.mkdir(parents=True, exist_ok=True)
    counts, extractor = SmileCounts(), _Extractor(baseline)
    for link in links:
        if not owns(InputFile(link, Path(link.name)), shard):
            continue
        output = folder / (link.name + ".npy")
        if _cached(output):
            counts.skipped += 1
            continue
        started = time.perf_counter()
        try:
            samples = read_audio_16k(link).samples
        except (AudioFileError, OSError) as exc:
            _note_failure(folder, link, str(exc), counts)
            continue
        decoded = time.perf_counter()
        counts.decode_s += decoded - started
        save_npy(output, extractor(np.asarray(samples, dtype=np.float32)))
        (folder / (link.name + FAILED_SUFFIX)).unlink(missing_ok=True)
        counts.compute_s += time.perf_counter() - decoded
        counts.written += 1
    return counts


def _cached(output: Path) -> bool:
    """Whether ``output`` holds a complete array (a damaged file is recomputed, never trusted)."""
    if not output.is_file():
        return False
    try:
        np.load(output)
    except (OSError, ValueError, EOFError):
        return False
    return True


def _note_failure(folder: Path, link: Path, reason: str, counts: SmileCounts) -> None:
    note = folder / (link.name + FAILED_SUFFIX)
    atomic_write(note, lambda fh: fh.write(reason.encode("utf-8", "surrogateescape")))
    counts.failed += 1
    counts.failures[link.name] = reason


def failed_outputs(folder: Path) -> dict[str, str]:
    """Output name -> reason for every clip noted as failed in ``folder``."""
    return {note.name[: -len(FAILED_SUFFIX)] + ".npy": note.read_text("utf-8", "replace")
            for note in folder.glob("*" + FAILED_SUFFIX)} if folder.is_dir() else {}


def require_opensmile() -> Any:
    """The ``opensmile`` module (pretraining's import of it), or a usage error naming the probe's extra."""
    try:
        return hybrid.require_opensmile()
    except UsageError:
        raise UsageError("the egemaps and compare baselines need openSMILE: pip install 'hear_byols[probe]'") from None


class _Extractor:
    """openSMILE's functionals of one clip at 16 kHz, as float32 ``(n,)``."""

    def __init__(self, baseline: str) -> None:
        opensmile = require_opensmile()
        self.size = BASELINES[baseline][1]
        feature_set = getattr(opensmile.FeatureSet, BASELINES[baseline][0])
        self.smile: Any = opensmile.Smile(feature_set=feature_set, feature_level=opensmile.FeatureLevel.Functionals)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        values = self.smile.process_signal(samples, TARGET_RATE).to_numpy(dtype=np.float32).reshape(-1)
        assert values.shape == (self.size,), f"openSMILE gave {values.shape} values, expected {self.size}"
        return values
