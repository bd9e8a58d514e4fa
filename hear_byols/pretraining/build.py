"""Everything a run needs before its first step: model, data, statistics, hybrid targets."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader

from hear_byols.atomic import atomic_write
from hear_byols.checkpoint import encoder_state_dict, read_checkpoint
from hear_byols.frontend import LogMelFrontend
from hear_byols.pretraining.data import Batch, CropDataset, TargetSource, collate
from hear_byols.pretraining.hybrid import Functionals, OnTheFly, TargetTable, ZScore
from hear_byols.pretraining.launch import Distributed
from hear_byols.pretraining.norm import mean_std
from hear_byols.pretraining.stopping import ignore_stop_signals
from hear_byols.pretraining.outputs import save_json
from hear_byols.variants import variant_names
from hear_byols.weights import resolve_weights

log = logging.getLogger("hear_byols.pretraining")
#: The epoch number the statistics sample reads its crops with (training epochs are >= 0).
STATS_EPOCH = -1


def initial_weights(net: torch.nn.Module, init: str, variant: str) -> str:
    """Load ``init`` (a weight file, or a variant name for its published weights) into ``net``
    with strict keys; returns the file used."""
    path = resolve_weights(init) if init in variant_names() else Path(init)
    net.load_state_dict(encoder_state_dict(read_checkpoint(path), variant, path), strict=True)
    return str(path)


def loader(dataset: CropDataset, batches: list[list[int]], workers: int) -> DataLoader:
    """A loader of the given batches. Its own generator keeps it from drawing the worker seed
    from torch's global one (which drives dropout): a resumed run restores that exactly. Its
    workers leave SIGTERM/SIGINT to the main process (``stopping``)."""
    return DataLoader(dataset, batch_sampler=batches, num_workers=workers, collate_fn=collate,
                      generator=torch.Generator(), worker_init_fn=ignore_stop_signals)


def _chunks(indices: list[int], size: int) -> list[list[int]]:
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def _batches(dataset: CropDataset, indices: list[int], batch: int, workers: int) -> Iterator[Batch]:
    return iter(loader(dataset, _chunks(indices, batch), workers)) if indices else iter(())


def dataset_statistics(dataset: CropDataset, frontend: LogMelFrontend, ctx: Distributed, sample: int, seed: int,
                       batch: int, workers: int, failed: dict[int, str]) -> tuple[tuple[float, float], ZScore | None]:
    """Log-mel mean/std over a seeded sample of crops (and, when the dataset yields hybrid
    targets, their per-functional statistics), each rank reading its share, summed over ranks."""
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()[:sample]
    dataset.epoch = STATS_EPOCH
    sums = torch.zeros(3, dtype=torch.float64)
    target_sums: torch.Tensor | None = None
    for item in _batches(dataset, order[ctx.rank :: ctx.world], batch, workers):
        failed.update(item.failed)
        if not item.indices:
            continue
        with torch.no_grad():
            lms = frontend(item.crops.to(ctx.device)).double()
        sums += torch.stack([torch.tensor(float(lms.numel()), dtype=torch.float64), lms.sum().cpu(), lms.square().sum().cpu()])
        if item.targets is not None:
            values = item.targets.double()
            rows = torch.stack([torch.full_like(values[0], len(values)), values.sum(0), values.square().sum(0)])
            target_sums = rows if target_sums is None else target_sums + rows
    stats = mean_std(ctx.sum(sums))
    if dataset.targets is None:
        return stats, None
    if target_sums is None:  # this rank read no crop: contribute zeros of the right width
        target_sums = torch.zeros(3, dataset.targets.size, dtype=torch.float64)
    return stats, ZScore.from_sums(ctx.sum(target_sums))


def target_table(dataset: CropDataset, functionals: Functionals, ctx: Distributed, cache: Path, manifest: str,
                 batch: int, workers: int, failed: dict[int, str]) -> np.ndarray:
    """The functionals of every file's fixed (``first``) crop, computed once over all ranks and
    cached in RUN_DIR (reused while the data manifest and feature set are unchanged)."""
    key = {"manifest": manifest, "feature_set": functionals.name, "n_files": len(dataset)}
    sidecar = cache.with_suffix(".json")
    if not (cache.is_file() and sidecar.is_file() and json.loads(sidecar.read_text()) == key):
        dataset.targets = OnTheFly(functionals)
        mine: list[tuple[int, np.ndarray]] = []
        for item in _batches(dataset, list(range(ctx.rank, len(dataset), ctx.world)), batch, workers):
            failed.update(item.failed)
            if item.targets is not None:
                mine.extend(zip(item.indices, item.targets.numpy()))
        parts = ctx.gather(mine)
        if ctx.main:
            table = np.zeros((len(dataset), functionals.size), np.float32)
            for part in parts:
                for index, values in part:
                    table[index] = values
            atomic_write(cache, lambda fh: np.save(fh, table))
            save_json(sidecar, key)
        ctx.barrier()
    return np.load(cache)


def hybrid_source(cfg_crop: str, dataset: CropDataset, functionals: Functionals, ctx: Distributed, run_dir: Path,
                  manifest: str, batch: int, workers: int, failed: dict[int, str]) -> TargetSource:
    """Targets looked up from the cached table for fixed crops, computed per crop otherwise."""
    if cfg_crop != "first":
        return OnTheFly(functionals)
    table = target_table(dataset, functionals, ctx, run_dir / "hybrid_targets.npy", manifest, batch, workers, failed)
    return TargetTable(table)
