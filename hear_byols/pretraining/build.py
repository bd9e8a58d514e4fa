"""What a run reads before its first step: initial weights, the data manifest, the dataset
statistics (of the log-mels, and of an objective's targets), and the loader of its batches."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch
from torch.utils.data import DataLoader

from hear_byols.inference.checkpoint import encoder_state_dict, identify_variants, official_owner, read_checkpoint
from hear_byols.errors import CheckpointError, TrainingDataError, UsageError, WrongVariantError
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.pretraining.data import Batch, CropDataset, collate, file_fingerprint, manifest_hash, name_files
from hear_byols.pretraining.finite import nonfinite_rows
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.norm import mean_std
from hear_byols.pretraining.stopping import ignore_stop_signals
from hear_byols.variants import variant_names
from hear_byols.weights import resolve_weights

log = logging.getLogger("hear_byols.pretraining")
#: The epoch number the statistics sample reads its crops with (training epochs are >= 0).
STATS_EPOCH = -1


def initial_weights(net: torch.nn.Module, init: str, variant: str) -> str:
    """Load ``init`` (a weight file, or a variant name for its published weights) into ``net``
    with strict keys; returns the file used. Mistakes are told in terms of this command's
    options (``--init``, ``--variant``, ``--resume``), not of ``load_model``."""
    if init in variant_names():
        path = resolve_weights(init)
    elif not Path(init).is_file():
        raise UsageError(f"--init {init}: no such file, and not a variant name ({', '.join(variant_names())})")
    else:
        path = Path(init)
    try:
        state = read_checkpoint(path)
    except CheckpointError as exc:
        if is_training_checkpoint(path):
            raise UsageError(f"--init {path} is a pretraining checkpoint.pt: pass the encoder.pth beside it to start "
                             "from its encoder, or --resume to continue that run exactly") from None
        raise CheckpointError(f"--init {exc}") from None
    try:
        weights = encoder_state_dict(state, variant, path)
    except WrongVariantError:
        owner = official_owner(path)
        fitting = [owner.variant] if owner is not None else identify_variants(state)
        raise UsageError(f"--init {path} holds weights of --variant {' or --variant '.join(fitting)}, not of "
                         f"--variant {variant}: pass --variant {fitting[0]} to train from them, or --init weights "
                         f"of {variant}") from None
    net.load_state_dict(weights, strict=True)
    return str(path)


def is_training_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a ``checkpoint.pt`` of ``pretrain`` (not a plain encoder state dict)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # unreadable in any way: not one of ours
        return False
    return isinstance(state, dict) and {"format", "config", "objective"} <= state.keys()


def loader(dataset: CropDataset, batches: list[list[int]], workers: int) -> DataLoader:
    """A loader of the given batches. Its own generator keeps it from drawing the worker seed
    from torch's global one (which drives dropout): a resumed run restores that exactly. Its
    workers leave SIGTERM/SIGINT to the main process (``stopping``)."""
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate,
                      generator=torch.Generator(), worker_init_fn=ignore_stop_signals)


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def read_batches(dataset: CropDataset, indices: list[int], batch: int, workers: int) -> Iterator[Batch]:
    """The files ``indices`` of ``dataset`` in batches of ``batch``, read by ``workers`` processes."""
    return iter(loader(dataset, _chunks(indices, batch), workers)) if indices else iter(())


def data_manifest(files: list[Path], ctx: Distributed) -> str:
    """The manifest of the data (``manifest_hash``): each process hashes its share of the files'
    bytes, so a large corpus is read once in all, not once per process."""
    mine = [(index, file_fingerprint(files[index])) for index in range(ctx.rank, len(files), ctx.world)]
    fingerprints = [""] * len(files)
    for part in ctx.gather(mine):
        for index, fingerprint in part:
            fingerprints[index] = fingerprint
    return manifest_hash(files, fingerprints)


def dataset_statistics(dataset: CropDataset, frontend: LogMelFrontend, ctx: Distributed, sample: int, seed: int,
                       batch: int, workers: int, failed: dict[int, str]
                       ) -> tuple[tuple[float, float], torch.Tensor | None]:
    """Log-mel mean/std over a seeded sample of crops (and, when the dataset yields an
    objective's targets, their summed rows ``[count, sum, sum of squares]`` per target), each
    rank reading its share, summed over ranks. Refused (``TrainingDataError``) when they would
    be NaN, infinite or a zero std."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()[:sample]
    dataset.epoch = STATS_EPOCH
    sums = torch.zeros(3, dtype=torch.float64)
    target_sums: torch.Tensor | None = None
    seen = SampleReport()
    for item in read_batches(dataset, order[ctx.rank :: ctx.world], batch, workers):
        failed.update(item.failed)
        seen.failed.update(item.failed)
        if not item.indices:
            continue
        with torch.no_grad():
            lms = frontend(item.crops.to(ctx.device)).double()
        seen.add(item.indices, lms)
        sums += torch.stack([torch.tensor(float(lms.numel()), dtype=torch.float64), lms.sum().cpu(), lms.square().sum().cpu()])
        if item.targets is not None:
            values = item.targets.double()
            rows = torch.stack([torch.full_like(values[0], len(values)), values.sum(0), values.square().sum(0)])
            target_sums = rows if target_sums is None else target_sums + rows
    SampleReport.merge(ctx.gather(seen)).check(dataset.files, len(order))
    stats = mean_std(ctx.sum(sums))
    if dataset.targets is None:
        return stats, None
    if target_sums is None:  # this rank read no crop: contribute zeros of the right width
        target_sums = torch.zeros(3, dataset.targets.size, dtype=torch.float64)
    return stats, ctx.sum(target_sums)


@dataclass
class SampleReport:
    """What the statistics sample held, per process, merged before the statistics are trusted."""

    read: list[int] = field(default_factory=list)
    nonfinite: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    low: float = math.inf
    high: float = -math.inf

    def add(self, indices: list[int], lms: torch.Tensor) -> None:
        self.read.extend(indices)
        self.nonfinite.extend(indices[row] for row in nonfinite_rows(lms))
        self.low, self.high = min(self.low, float(lms.min())), max(self.high, float(lms.max()))

    @classmethod
    def merge(cls, parts: list["SampleReport"]) -> "SampleReport":
        merged = cls()
        for part in parts:
            merged.read += part.read
            merged.nonfinite += part.nonfinite
            merged.failed.update(part.failed)
            merged.low, merged.high = min(merged.low, part.low), max(merged.high, part.high)
        return merged

    def check(self, files: list[Path], sampled: int) -> None:
        """Refuse a sample whose statistics would be NaN/Inf (nothing read, non-finite log-mels)
        or whose std would be 0 (every crop one constant value: digital silence)."""
        if not self.read:
            raise TrainingDataError(
                f"none of the {sampled} files sampled for the dataset statistics could be read: "
                f"{name_files(files, list(self.failed), self.failed)}; check DATA")
        if self.nonfinite:
            raise TrainingDataError(
                f"the log-mel of {name_files(files, self.nonfinite)} is not finite (samples too large for float32 "
                "power, e.g. a float WAV beyond 1e19): the dataset statistics would be NaN; remove or rescale those files")
        if self.low == self.high:
            raise TrainingDataError(
                f"all {len(self.read)} crops sampled for the dataset statistics have one constant log-mel value "
                f"({self.low:.6g}: digital silence), e.g. {name_files(files, self.read)}: their std is 0 and nothing "
                "can be learnt from them; train on audio with content")
