"""``embed_files`` (what ``hear-byols embed`` runs): one model load, then every file decoded, embedded and saved.

Files are decoded ahead of the model (``decode.py``: ``--workers`` processes) and, with
``--batch-size`` above 1, scene embeddings of equal-length files share encoder passes
(``batching.py``); timestamp embeddings and long files are embedded one file at a time, as the
frames of one file already fill a pass. Memory depends on the longest file and the batch size,
not on how many files there are. A file that cannot be embedded is recorded with its reason and
the run goes on; the exit status says whether anything failed. Each output's provenance is
journaled as it is written, on a writer thread that overlaps the journal's fsync with the next
file's compute (``writer.py``, ``journal.py``): an existing output is skipped only when its
record matches this run's settings, its input still holds the bytes it was computed from and
the outputs are as written (``staleness.py``). ``--shard`` runs one shard of the files (``shards.py``); each shard
locks only itself (``outdir.py``) and writes its own part of the index (``index.py``).
"""
from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

import hear_byols
from hear_byols.api import check_load_options, get_scene_embeddings, get_timestamp_embeddings, load_model
from hear_byols.storage.atomic import atomic_write
from hear_byols.audio.files import RESAMPLE_QUALITY, TARGET_RATE
from hear_byols.audio.inputs import InputFile, expand_inputs
from hear_byols.distributed import Shard
from hear_byols.errors import UsageError
from hear_byols.extract.batching import SceneBatcher, Waiting
from hear_byols.extract.decode import Decoded, decoded_files
from hear_byols.extract.failures import FILE_ERRORS, failure_reason
from hear_byols.extract.index import (
    FileRecord,
    combined_index,
    conflicting_settings,
    input_fields,
    next_run_id,
    same_settings,
    settings_differences,
    write_part,
)
from hear_byols.extract.journal import Journal, journal_name, read_journal
from hear_byols.extract.options import EmbedOptions, check_values, checked_device, model_fields
from hear_byols.extract.outdir import Claim, claimed_out_dir
from hear_byols.extract.progress import Progress, report_shard, report_summary
from hear_byols.extract.row_schema import FAILED, SKIPPED, WRITTEN
from hear_byols.extract.shards import choose_shard, parse_shard_option, resolve_device, select
from hear_byols.extract.staleness import still_stands
from hear_byols.extract.summary import Summary, summarize
from hear_byols.extract.writer import BackgroundWriter
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import Normalization
from hear_byols.timestamps import DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS
from hear_byols.weights import sha256_of


def embed_files(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    model: str | ByolsModel,
    out: str | os.PathLike[str] = "embeddings",
    *,
    weights: str | os.PathLike[str] | None = None,
    timestamps: bool = False,
    hop_ms: float = DEFAULT_HOP_SIZE_MS,
    timestamp_mode: str | None = None,
    normalization: Any = None,
    layer: str | None = None,
    device: str | torch.device | None = None,
    workers: int = 0,
    batch_size: int = 1,
    shard: Shard | str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> Summary:
    """Embed audio files into ``out`` exactly as ``hear-byols embed`` does (docs/EXTRACT.md).

    ``inputs``: files, directories (recursive) or globs; ``model``: a variant name, loaded with
    ``weights``, ``normalization``, ``layer`` and ``timestamp_mode`` as ``load_model`` takes them,
    or a model from ``load_model()`` (moved to ``device``). One ``.npy`` per file mirrors the input
    tree, plus ``OUT/index.json``; files whose outputs stand are skipped unless ``overwrite``.
    ``shard``: ``Shard``, ``"I/N"``, ``"auto"``, ``"all"`` or None (torchrun's rank, else every
    file). A file that fails is counted in the ``Summary`` and the others go on; bad options,
    inputs or ``out`` raise ``UsageError``/``InvalidOptionError`` before any work. Progress and
    the summary go to the ``hear_byols.extract`` logger.
    """
    check_values(hop_ms=hop_ms, workers=workers, batch_size=batch_size, timestamp_mode=timestamp_mode)
    asked_device = None if device is None else checked_device(device)
    loading = model_fields(model, {"weights": weights, "normalization": normalization, "layer": layer,
                                   "timestamp_mode": timestamp_mode})
    chosen, source = choose_shard(parse_shard_option(shard) if isinstance(shard, str) else shard)
    items = expand_inputs(_arguments(inputs))
    if asked_device is None and loading["model"] is not None:
        asked_device = next(loading["model"].parameters()).device  # a loaded model stays where it is
    options = EmbedOptions(
        **loading, out_dir=Path(out), timestamps=timestamps, hop_ms=float(hop_ms), device=resolve_device(asked_device),
        overwrite=overwrite, quiet=quiet, workers=workers, batch_size=batch_size, shard=chosen, shard_source=source,
    )
    if not timestamps:  # the timestamp mode means nothing to scene embeddings: a scene run never fails for it
        options = replace(options, timestamp_mode="exact")
    return run_embed(items, options)


def _arguments(inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[str]:
    """The PATH arguments ``expand_inputs`` takes (one path or glob, or many)."""
    if isinstance(inputs, (str, os.PathLike)):
        return [os.fspath(inputs)]
    return [os.fspath(path) for path in inputs]


def output_paths(item: InputFile, options: EmbedOptions) -> list[Path]:
    """``OUT/<relative name>.npy`` (the audio extension is kept: a.wav and a.flac stay apart),
    plus ``.timestamps.npy`` in timestamp mode."""
    base = options.out_dir / item.relative
    names = [base.name + ".npy"] + ([base.name + ".timestamps.npy"] if options.timestamps else [])
    return [base.with_name(name) for name in names]


def run_embed(items: list[InputFile], options: EmbedOptions) -> Summary:
    """Embed this shard's share of ``items``: every outcome recorded in the index, reported
    (``progress.py``) and summed up in the ``Summary`` returned."""
    listed, items = len(items), select(items, options.shard)
    report_shard(options.shard, options.shard_source, len(items), listed)
    if options.model is None:  # before --out exists
        check_load_options(options.variant, {"timestamp_mode": options.timestamp_mode, "layer": options.layer,
                                             "normalization": options.normalization})
    out = options.out_dir
    with claimed_out_dir(out, options.shard) as claim:
        name = journal_name(options.shard.file_tag)
        combined_index(out, read_journal(out, name))  # a damaged index, part or journal: a usage error before any work
        model = _load(options)
        run = _start_run(claim, model, options)
        journal = read_journal(out, name)
        runner = _Runner(model, options, journal, run, Progress(items, quiet=options.quiet))
        try:
            runner.embed(items)
        finally:
            runner.writer.drain()  # the records of every output written, also on Ctrl-C
            runner.progress.close()
            summary = summarize(runner.records, len(items), _finish_run(claim, run, runner.records))
            report_summary(summary)
    return summary


def _load(options: EmbedOptions) -> ByolsModel:
    if options.model is not None:
        return options.model.to(options.device)
    model = load_model(
        options.weights, variant=options.variant, normalization=options.normalization,
        timestamp_mode=options.timestamp_mode, layer=options.layer,
    )
    return model.to(options.device)


def _start_run(claim: Claim, model: ByolsModel, options: EmbedOptions) -> dict[str, Any]:
    """This run's header, journaled under a fresh id and announced to the shards that start
    while it lives, once its settings are known not to clash."""
    header = run_header(model, options)
    with claim.index_section():  # run ids are unique across concurrent shards
        _refuse_live_clash(claim, header["settings"])
        journal = read_journal(options.out_dir, journal_name(options.shard.file_tag))
        index, _ = combined_index(options.out_dir, journal)
        conflicts = conflicting_settings(index, journal, header["settings"])
        if conflicts and not options.overwrite:
            raise UsageError(
                f"{options.out_dir} holds embeddings made with other settings ({conflicts[0]}), which would be "
                f"skipped as done; use another --out directory, or --overwrite to recompute every file"
            )
        run = {"id": next_run_id(index, journal), **header}
        journal.add_run(run)
        claim.announce(run)
    return run


def _refuse_live_clash(claim: Claim, settings: dict[str, Any]) -> None:
    """A live shard's settings count before it has written a file, and ``--overwrite`` cannot
    recompute the files another process is writing."""
    for shard, run in claim.live_runs():
        differences = settings_differences(run["settings"], settings)
        if differences:
            raise UsageError(
                f"shard {shard.label} is writing into {claim.out_dir} with other settings ({differences}); wait for "
                "it to finish (then --overwrite recomputes every file with these), or use another --out directory"
            )


def _finish_run(claim: Claim, run: dict[str, Any], records: list[FileRecord]) -> Path:
    """Write this run's part, and release the shard: the last shard alive merges ``index.json``."""
    part = write_part(claim.out_dir, run, records)
    return claim.release() or part


def run_header(model: ByolsModel, options: EmbedOptions) -> dict[str, Any]:
    """What the index records about this run; ``settings`` are what shape the numbers (the device
    type and precision too: CPU and GPU outputs differ in the last bits, half precision more).
    The batch size is not among them: batched outputs equal the per-file ones within float32
    rounding (batching.py), well inside what a device change makes."""
    return {
        "settings": {
            "model": model.variant,
            "weights": str(Path(model.weights).resolve()),
            "weights_sha256": sha256_of(model.weights),
            "normalization": model.normalization.as_option(),
            "layer": model.layer,
            "timestamps": options.timestamps,
            "hop_ms": options.hop_ms if options.timestamps else None,
            "timestamp_mode": options.timestamp_mode if options.timestamps else None,
            "sample_rate": TARGET_RATE,
            "resampler": f"soxr {RESAMPLE_QUALITY}",
            "downmix": "mean of channels",
            "device_type": options.device.type,
            "precision": getattr(model, "precision", "float32"),
        },
        "frame_ms": DEFAULT_FRAME_DURATION_MS if options.timestamps else None,
        "dtype": "float32",
        "device": str(options.device),
        "shard": options.shard.label,
        "shard_source": options.shard_source,
        "batch_size": options.batch_size,
        "workers": options.workers,
        "hear_byols": hear_byols.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        **_statistics_file(model.normalization),
    }


def _statistics_file(norm: Normalization) -> dict[str, Any]:
    """Where fixed statistics came from, when a ``stats.json`` gave them (outside ``settings``:
    the numbers, which are in it, decide whether two runs agree)."""
    if norm.source is None:
        return {}
    return {"normalization_file": {"path": norm.source, "sha256": norm.sha256, "statistic": norm.statistic}}


@dataclass(frozen=True)
class _Todo:
    """A file to embed, with the outputs it gets."""

    item: InputFile
    outputs: list[Path]
    names: list[str]


@dataclass(frozen=True)
class _Clip:
    """A decoded file: its entry and what the file was (``FileRecord`` fields)."""

    entry: _Todo
    described: dict[str, Any]


class _Runner:
    """Embeds the files of one run, recording each outcome in ``records`` as it happens."""

    def __init__(
        self, model: ByolsModel, options: EmbedOptions, journal: Journal, run: dict[str, Any], progress: Progress
    ) -> None:
        self.model, self.options, self.journal, self.run, self.progress = model, options, journal, run, progress
        self.records: list[FileRecord] = []
        self._recording = threading.Lock()  # records and progress are updated by the writer thread too
        batched = options.batch_size > 1 and not options.timestamps
        self.batcher = SceneBatcher(model, options.batch_size) if batched else None
        self.writer = BackgroundWriter(self._write)

    def embed(self, items: list[InputFile]) -> None:
        todo = [entry for entry in map(self._todo, items) if not self._skipped(entry)]
        for decoded in decoded_files([entry.item.path for entry in todo], self.options.workers):
            self._embed_decoded(todo[decoded.position], decoded)
        for group in self.batcher.drain() if self.batcher else []:
            self._embed_group(group)
        self.writer.close()

    def _todo(self, item: InputFile) -> _Todo:
        outputs = output_paths(item, self.options)
        return _Todo(item, outputs, [str(path.relative_to(self.options.out_dir)) for path in outputs])

    def _skipped(self, entry: _Todo) -> bool:
        """Skip a file whose outputs were recorded with this run's settings, from the same input
        bytes, and are still as written (``staleness.py``); anything else is recomputed."""
        recorded = None if self.options.overwrite else self.journal.recorded(entry.names)
        if recorded is None:
            return False
        row, settings = recorded
        if not same_settings(settings, self.run["settings"]) or not still_stands(self.options.out_dir, row, entry.item.path):
            return False
        self._record(entry, FileRecord(str(entry.item.path), entry.names, SKIPPED,
                                       "output exists, from the same input (use --overwrite to recompute)"))
        return True

    def _embed_decoded(self, entry: _Todo, decoded: Decoded) -> None:
        if decoded.error is not None:
            self._fail(entry, decoded.error)
            return
        assert decoded.samples is not None and decoded.source_rate is not None and decoded.channels is not None
        assert decoded.input is not None  # set with the samples
        described = dict(
            duration_s=len(decoded.samples) / TARGET_RATE, sample_rate=decoded.source_rate, channels=decoded.channels,
            resampled=decoded.source_rate != TARGET_RATE, downmixed=decoded.channels > 1, **input_fields(decoded.input),
        )
        clip = _Clip(entry, described)
        if self.batcher is not None and self.batcher.accepts(len(decoded.samples)):
            for group in self.batcher.add(clip, decoded.samples):
                self._embed_group(group)
        else:
            self._embed_alone(clip, decoded.samples)

    def _embed_group(self, group: list[Waiting]) -> None:
        try:
            embeddings = self.batcher.encode(group)  # type: ignore[union-attr]
        except FILE_ERRORS as exc:
            failure_reason(exc, "a batch", timestamps=False, device=self.options.device)  # a sticky CUDA error stops here
            for waiting in group:  # the batch failed (e.g. out of memory): each file alone, with its own reason
                self._embed_alone(waiting.key, waiting.samples)
            return
        for waiting, embedding in zip(group, embeddings):
            self.writer.submit(waiting.key, [embedding])

    def _embed_alone(self, clip: _Clip, samples: torch.Tensor) -> None:
        try:
            arrays = _embed(self.model, samples.numpy(), self.options)
        except FILE_ERRORS as exc:
            self._fail(clip.entry, exc, **clip.described)
            return
        self.writer.submit(clip, arrays)

    def _write(self, clip: _Clip, arrays: list[np.ndarray]) -> None:
        """On the writer thread: check, save and journal one file's outputs."""
        entry = clip.entry
        if not all(np.isfinite(array).all() for array in arrays):
            self._record(entry, FileRecord(str(entry.item.path), entry.names, FAILED,
                                           "the embedding has NaN or Inf values; not written", **clip.described))
            return
        try:
            hashes = {name: save_hashed(path, array) for name, path, array in zip(entry.names, entry.outputs, arrays)}
        except FILE_ERRORS as exc:
            self._fail(entry, exc, **clip.described)
            return
        record = FileRecord(str(entry.item.path), entry.names, WRITTEN, sha256=hashes, **clip.described)
        self.journal.add_file(self.run["id"], asdict(record))
        self._record(entry, record)

    def _fail(self, entry: _Todo, exc: BaseException, **described: Any) -> None:
        reason = _reason(entry.item, exc, self.options)
        self._record(entry, FileRecord(str(entry.item.path), entry.names, FAILED, reason, **described))

    def _record(self, entry: _Todo, record: FileRecord) -> None:
        with self._recording:
            self.records.append(record)
            self.progress.file_done(entry.item, record.status, record.reason or ", ".join(record.outputs))


def save_hashed(path: Path, array: np.ndarray) -> str:
    """Write ``array`` as ``.npy`` atomically; returns the sha256 of the bytes written."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    data = buffer.getvalue()
    atomic_write(path, lambda fh: fh.write(data))
    return hashlib.sha256(data).hexdigest()


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
