"""``hear-byols embed``: one model load, then each file read, embedded and saved in turn.

Files are processed one at a time so memory depends on the longest file, not on how many
there are. A file that cannot be embedded is recorded with its reason and the run goes on;
the exit status says whether anything failed. Each output's provenance is journaled as it is
written (``journal.py``): an existing output is skipped only when its record matches this
run's settings, and ``--out`` is locked for the run (``outdir.py``).
"""
from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hear_byols
from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, load_model
from hear_byols.audio.files import RESAMPLE_QUALITY, TARGET_RATE, read_audio_16k
from hear_byols.atomic import save_npy
from hear_byols.cli.failures import FILE_ERRORS, failure_reason
from hear_byols.cli.index import (
    FAILED,
    SKIPPED,
    WRITTEN,
    FileRecord,
    conflicting_settings,
    merge_index,
    next_run_id,
    read_index,
    recover_killed_runs,
    same_settings,
    write_index,
)
from hear_byols.cli.inputs import InputFile
from hear_byols.cli.journal import Journal, read_journal
from hear_byols.cli.outdir import claimed_out_dir
from hear_byols.cli.progress import Progress
from hear_byols.errors import UsageError
from hear_byols.model import ByolsModel
from hear_byols.weights import sha256_of


@dataclass(frozen=True)
class EmbedOptions:
    """The ``embed`` options, parsed and checked."""

    variant: str
    weights: str
    out_dir: Path
    timestamps: bool
    hop_ms: float
    timestamp_mode: str
    normalization: Any
    device: torch.device
    overwrite: bool
    quiet: bool


def output_paths(item: InputFile, options: EmbedOptions) -> list[Path]:
    """``OUT/<relative name>.npy`` (the audio extension is kept: a.wav and a.flac stay apart),
    plus ``.timestamps.npy`` in timestamp mode."""
    base = options.out_dir / item.relative
    names = [base.name + ".npy"] + ([base.name + ".timestamps.npy"] if options.timestamps else [])
    return [base.with_name(name) for name in names]


def run_embed(items: list[InputFile], options: EmbedOptions) -> int:
    """Embed ``items``; returns the exit status (0 all written or skipped, 1 any failure)."""
    with claimed_out_dir(options.out_dir):
        index, journal = read_index(options.out_dir), read_journal(options.out_dir)
        model = load_model(
            options.weights, variant=options.variant, normalization=options.normalization,
            timestamp_mode=options.timestamp_mode,
        ).to(options.device)
        run = {"id": next_run_id(index, journal), **run_header(model, options)}
        index = recover_killed_runs(index, journal)
        conflicts = conflicting_settings(index, journal, run["settings"])
        if conflicts and not options.overwrite:
            raise UsageError(
                f"{options.out_dir} holds embeddings made with other settings ({conflicts[0]}), which would be "
                f"skipped as done; use another --out directory, or --overwrite to recompute every file"
            )
        journal.add_run(run)
        records: list[FileRecord] = []
        progress = Progress(items, quiet=options.quiet)
        try:
            for item in items:
                record = _process(model, item, options, journal, run)
                records.append(record)
                progress.file_done(item, record.status, record.reason or ", ".join(record.outputs))
        finally:
            progress.close()
            index_path = write_index(options.out_dir, merge_index(index, run, records))
            _print_summary(records, len(items), index_path)
    return 1 if any(record.status == FAILED for record in records) else 0


def run_header(model: ByolsModel, options: EmbedOptions) -> dict[str, Any]:
    """What the index records about this run; ``settings`` are what shape the numbers (the device
    type and precision too: CPU and GPU outputs differ in the last bits, half precision more)."""
    return {
        "settings": {
            "model": model.variant,
            "weights": str(Path(model.weights).resolve()),
            "weights_sha256": sha256_of(model.weights),
            "normalization": model.normalization.as_option(),
            "timestamps": options.timestamps,
            "hop_ms": options.hop_ms if options.timestamps else None,
            "timestamp_mode": options.timestamp_mode if options.timestamps else None,
            "sample_rate": TARGET_RATE,
            "resampler": f"soxr {RESAMPLE_QUALITY}",
            "downmix": "mean of channels",
            "device_type": options.device.type,
            "precision": getattr(model, "precision", "float32"),
        },
        "device": str(options.device),
        "hear_byols": hear_byols.__version__,
        "torch": torch.__version__,
    }


def _process(
    model: ByolsModel, item: InputFile, options: EmbedOptions, journal: Journal, run: dict[str, Any]
) -> FileRecord:
    outputs = output_paths(item, options)
    names = [str(path.relative_to(options.out_dir)) for path in outputs]
    if not options.overwrite and same_settings(journal.recorded_settings(names), run["settings"]):
        return FileRecord(str(item.path), names, SKIPPED, "output exists (use --overwrite to recompute)")
    try:
        audio = read_audio_16k(item.path)
    except FILE_ERRORS as exc:
        return FileRecord(str(item.path), names, FAILED, _reason(item, exc, options))
    described = dict(duration_s=audio.duration_s, sample_rate=audio.source_rate, channels=audio.channels)
    try:
        arrays = _embed(model, audio.samples, options)
        if not all(np.isfinite(array).all() for array in arrays):
            return FileRecord(str(item.path), names, FAILED, "the embedding has NaN or Inf values; not written",
                              **described)
        for path, array in zip(outputs, arrays):
            save_npy(path, array)
    except FILE_ERRORS as exc:
        return FileRecord(str(item.path), names, FAILED, _reason(item, exc, options), **described)
    record = FileRecord(str(item.path), names, WRITTEN, **described)
    journal.add_file(run["id"], asdict(record))
    return record


def _embed(model: ByolsModel, samples: np.ndarray, options: EmbedOptions) -> list[np.ndarray]:
    """Exactly what the Python API returns for this clip: ``[(D,)]`` or ``[(T, D), (T,)]``."""
    clip = torch.from_numpy(samples).unsqueeze(0).to(options.device)
    if options.timestamps:
        embeddings, timestamps = get_timestamp_embeddings(clip, model, hop_size=options.hop_ms)
        return [embeddings[0].cpu().numpy(), timestamps[0].cpu().numpy()]
    model.require_samples(len(samples), "the audio (at 16 kHz)")
    return [get_scene_embeddings(clip, model)[0].cpu().numpy()]


def _reason(item: InputFile, exc: BaseException, options: EmbedOptions) -> str:
    return failure_reason(exc, str(item.path), timestamps=options.timestamps, device=options.device)


def _print_summary(records: list[FileRecord], n_items: int, index_path: Path) -> None:
    counts = {status: sum(r.status == status for r in records) for status in (WRITTEN, SKIPPED, FAILED)}
    audio_s = sum(r.duration_s or 0.0 for r in records if r.status == WRITTEN)
    interrupted = "" if len(records) == n_items else f", interrupted after {len(records)} of {n_items} files"
    print(
        f"hear-byols embed: {counts[WRITTEN]} written, {counts[SKIPPED]} skipped, {counts[FAILED]} failed "
        f"({audio_s:.1f} s of audio embedded{interrupted}); index: {index_path}",
        file=sys.stderr,
    )
    failures = [r for r in records if r.status == FAILED]
    if failures:
        print(f"failed ({len(failures)}):", file=sys.stderr)
        for record in failures:
            print(f"  {record.input}: {record.reason}", file=sys.stderr)
