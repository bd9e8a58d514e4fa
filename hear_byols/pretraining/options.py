"""The options of ``hear-byols pretrain`` and ``torchrun -m hear_byols.pretraining`` (one list).

Imports nothing heavy, so the command line can offer ``pretrain`` without loading training code.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from hear_byols.argtypes import between, count, positive
from hear_byols.variants import variant_names

CROP_MODES = ("random", "first")
NORM_MODES = ("dataset", "running")
HYBRID_SETS = ("compare2016", "egemaps")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a run was asked to do (recorded in run.json and checkpoint.pt)."""

    data: tuple[str, ...]
    variant: str
    out: str
    epochs: int = 100
    max_steps: int | None = None
    max_time: float | None = None
    batch_size: int = 256
    accumulate: int = 1
    lr: float = 3e-4
    tau: float = 0.99
    hybrid: str | None = None
    hybrid_weight: float = 1.0
    byol_weight: float = 1.0
    crop: str = "random"
    norm: str = "dataset"
    norm_sample: int = 2048
    workers: int = 2
    precision: str = "fp32"
    sync_bn: bool = False
    device: str = "auto"
    seed: int = 42
    resume: str | None = None
    overwrite: bool = False
    init: str | None = None
    save_every: int = 500
    quiet: bool = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the pretraining options on ``parser``."""
    add = parser.add_argument
    add("data", nargs="+", metavar="DATA", help="audio folders (recursive), quoted globs, files, or .txt/.lst file lists")
    add("--variant", required=True, choices=variant_names(), help="architecture to train (the variant's encoder)")
    add("--out", required=True, type=Path, metavar="RUN_DIR", help="run directory: encoder.pth, checkpoint.pt, run.json, metrics.csv")
    add("--epochs", type=count(1), default=100, help="epochs (default 100, the recipe)")
    add("--max-steps", type=count(1), default=None, help="stop after this many optimiser steps (overrides --epochs)")
    add("--max-time", type=positive("seconds"), default=None, metavar="SECONDS", help="stop (checkpointed) after this much training in this session")
    add("--batch-size", type=count(2), default=256, help="global batch over all processes and accumulation (default 256)")
    add("--accumulate", type=count(1), default=1, metavar="K", help="gradient accumulation: K micro-batches per step")
    add("--lr", type=positive(), default=3e-4, help="AdamW learning rate (default 3e-4; other AdamW settings are torch's)")
    add("--tau", type=between(0, 1), default=0.99, help="EMA decay of the target (default 0.99)")
    add("--hybrid", choices=HYBRID_SETS, default=None, help="Hybrid BYOL-S: also predict openSMILE functionals")
    add("--hybrid-weight", type=between(0), default=1.0, metavar="LAMBDA", help="weight of the hybrid MSE (default 1)")
    add("--byol-weight", type=between(0), default=1.0, help="weight of the BYOL loss (default 1)")
    add("--crop", choices=CROP_MODES, default="random", help="0.95 s crop: random offset (default) or file start (2021 runs)")
    add("--norm", choices=NORM_MODES, default="dataset", help="pre-normalisation: dataset stats (default) or 2021 running stats")
    add("--norm-sample", type=count(1), default=2048, metavar="N", help="crops sampled for the dataset statistics")
    add("--workers", type=count(0), default=2, help="data-loading processes per training process (0: in process)")
    add("--precision", choices=PRECISIONS, default="fp32", help="bf16 autocast (GPU) or fp32 (default)")
    add("--sync-bn", action="store_true", help="synchronise BatchNorm statistics across processes (off: the recipe)")
    add("--device", default="auto", help="auto (cuda:LOCAL_RANK when available), cpu, cuda")
    add("--seed", type=count(0), default=42, help="seed (default 42)")
    add("--resume", default=None, metavar="CHECKPOINT", help="continue exactly from a checkpoint.pt (or its RUN_DIR)")
    add("--overwrite", action="store_true", help="start a new run in a RUN_DIR that holds one (its run files are deleted first)")
    add("--init", default=None, metavar="WEIGHTS|VARIANT", help="start online and target from a weight file or a variant's published weights")
    add("--save-every", type=count(1), default=500, metavar="STEPS", help="checkpoint every this many steps (default 500)")
    add("--quiet", action="store_true", help="no progress bar")


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    fields = PretrainConfig.__dataclass_fields__
    values = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    values["data"], values["out"] = tuple(args.data), str(args.out)
    return PretrainConfig(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hear_byols.pretraining",
        description="Train BYOL-S / Hybrid BYOL-S (run it under torchrun for several processes).",
    )
    add_arguments(parser)
    return parser
