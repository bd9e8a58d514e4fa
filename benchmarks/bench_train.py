"""Training throughput on this machine: samples/s of the recipe, with and without openSMILE targets.

    python benchmarks/bench_train.py [--variant default512] [--batch 32] [--steps 8] [--workers 2]

Trains on a synthetic corpus (3 s harmonic clips) for a few steps per case and reports the
median samples/s over the steps after the first (the first includes start-up), plus the cost
of openSMILE functionals per 0.95 s crop. With random crops the hybrid targets are computed
in the data workers every step; with ``--crop first`` they are computed once and cached.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from hear_byols.pretraining.data import CROP_SAMPLES
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining


def write_corpus(folder: Path, clips: int) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(3 * 16000) / 16000
    for index in range(clips):
        f0 = 90 + 220 * rng.random()
        x = sum(np.sin(2 * np.pi * f0 * k * t + 6 * rng.random()) / k for k in range(1, 10))
        x = 0.3 * x * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) / np.abs(x).max() + 0.01 * rng.standard_normal(len(t))
        sf.write(folder / f"clip{index:04d}.wav", x.astype(np.float32), 16000)
    return folder


def samples_per_s(run_dir: Path) -> float:
    with open(run_dir / "metrics.csv", newline="") as fh:
        rates = [float(row["samples_per_s"]) for row in csv.DictReader(fh)]
    return statistics.median(rates[1:] or rates)


def functionals_ms(name: str, repeats: int = 20) -> float:
    from hear_byols.pretraining.hybrid import Functionals

    extract, crop = Functionals(name), (0.1 * np.random.default_rng(0).standard_normal(CROP_SAMPLES)).astype(np.float32)
    extract(crop)
    start = time.perf_counter()
    for _ in range(repeats):
        extract(crop)
    return 1000 * (time.perf_counter() - start) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="default512")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    hybrid = [None] + (["egemaps", "compare2016"] if importlib.util.find_spec("opensmile") else [])
    print(f"# {platform.machine()}, {os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f}), "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.variant}, batch {args.batch}, {args.workers} data workers, random crops")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "corpus").mkdir()
        corpus = write_corpus(Path(tmp) / "corpus", args.batch * 4)
        for name in hybrid:
            out = Path(tmp) / f"run-{name}"
            cfg = PretrainConfig(data=(str(corpus),), variant=args.variant, out=str(out), batch_size=args.batch,
                                 max_steps=args.steps, workers=args.workers, hybrid=name, quiet=True,
                                 norm_sample=args.batch, save_every=10**9)
            if run_pretraining(cfg):
                return 1
            print(f"{'BYOL-S' if name is None else 'Hybrid BYOL-S, ' + name:32s} {samples_per_s(out):8.1f} samples/s")
    for name in hybrid[1:]:
        print(f"openSMILE {name:22s} {functionals_ms(name):8.1f} ms per 0.95 s crop (one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
