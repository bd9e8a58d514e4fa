"""The options of ``hear-byols pretrain`` and ``torchrun -m hear_byols.pretraining``: one table,
``PretrainConfig``, whose fields give each flag its default, checker and help.

The objectives add their own options (``objectives``: each one's ``Options``). Range checks are
``hear_byols.argtypes``' checkers: argparse applies them to flags, ``__post_init__`` to a
config built in Python (``InvalidOptionError``).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, fields

from hear_byols.argtypes import between, count, positive
from hear_byols.pretraining.objectives import OBJECTIVES
from hear_byols.pretraining.optionfield import add_flags, check_options, option
from hear_byols.variants import variant_names

CROP_MODES = ("random", "first")
NORM_MODES = ("dataset", "running")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class RunOptions:
    """The options of every run, whatever its objective."""

    data: tuple[str, ...] = option(positional=True, metavar="DATA",
                                   help="audio folders (recursive), quoted globs, files, or .txt/.lst file lists")
    variant: str = option(choices=variant_names, help="architecture to train (the variant's encoder)")
    out: str = option(metavar="RUN_DIR", help="run directory: encoder.pth, checkpoint.pt, run.json, metrics.csv")
    epochs: int = option(100, parse=count(1), help="epochs (default %(default)s, the recipe)")
    max_steps: int | None = option(None, parse=count(1),
                                   help="stop after this many optimiser steps (overrides --epochs)")
    max_time: float | None = option(None, parse=positive("seconds"), metavar="SECONDS",
                                    help="stop (checkpointed) after this much training in this session")
    batch_size: int = option(256, parse=count(2),
                             help="global batch over all processes and accumulation (default %(default)s)")
    accumulate: int = option(1, parse=count(1), metavar="K", help="gradient accumulation: K micro-batches per step")
    lr: float = option(3e-4, parse=positive(),
                       help="AdamW learning rate (default %(default)s; other AdamW settings are torch's)")
    tau: float = option(0.99, parse=between(0, 1), help="EMA decay of the target (default %(default)s)")
    crop: str = option("random", choices=CROP_MODES,
                       help="0.95 s crop: random offset (default) or file start (2021 runs)")
    norm: str = option("dataset", choices=NORM_MODES,
                       help="pre-normalisation: dataset stats (default) or 2021 running stats")
    norm_sample: int = option(2048, parse=count(1), metavar="N", help="crops sampled for the dataset statistics")
    workers: int = option(2, parse=count(0), help="data-loading processes per training process (0: in process)")
    precision: str = option("fp32", choices=PRECISIONS, help="bf16 autocast (GPU) or fp32 (default)")
    sync_bn: bool = option(False, help="synchronise BatchNorm statistics across processes (off: the recipe)")
    device: str = option("auto", help="auto (cuda:LOCAL_RANK when available), cpu, cuda")
    seed: int = option(42, parse=count(0), help="seed (default %(default)s)")
    resume: str | None = option(None, metavar="CHECKPOINT",
                                help="continue exactly from a checkpoint.pt (or its RUN_DIR)")
    overwrite: bool = option(False,
                             help="start a new run in a RUN_DIR that holds one (its run files are deleted first)")
    init: str | None = option(None, metavar="WEIGHTS|VARIANT",
                              help="start online and target from a weight file or a variant's published weights")
    save_every: int = option(500, parse=count(1), metavar="STEPS",
                             help="checkpoint every this many steps (default %(default)s)")
    quiet: bool = option(False, help="no progress bar")


@dataclass(frozen=True)
class PretrainConfig(*(cls.Options for cls in reversed(OBJECTIVES.values())), RunOptions):  # type: ignore[misc]
    """Everything a run was asked to do (recorded in run.json and checkpoint.pt): the run's
    options and every objective's. Out-of-range values raise ``InvalidOptionError``."""

    def __post_init__(self) -> None:
        check_options(self)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the pretraining options on ``parser``."""
    add_flags(parser, PretrainConfig)


def config_from_args(args: argparse.Namespace) -> PretrainConfig:
    values = {field.name: getattr(args, field.name) for field in fields(PretrainConfig) if hasattr(args, field.name)}
    values["data"], values["out"] = tuple(args.data), str(args.out)
    return PretrainConfig(**values)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hear_byols.pretraining",
        description="Train BYOL-S / Hybrid BYOL-S (run it under torchrun for several processes).",
    )
    add_arguments(parser)
    return parser
