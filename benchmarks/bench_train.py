"""Training throughput on this machine: samples/s of the recipe, with and without openSMILE targets.

    python benchmarks/bench_train.py [--variant default512] [--batch 32] [--steps 8] [--workers 2]

Trains on a synthetic corpus (3 s harmonic clips) for a few steps per case and reports the
median samples/s over the steps after the first (the first includes start-up), plus the cost
of openSMILE functionals per 0.95 s crop. With random crops the hybrid targets are computed
in the data workers every step; with ``--crop first`` they are computed once and cached.

On a shared machine samples/s measures the other load as much as the code, so every case also
prints the CPU seconds it used per sample (this process and its data workers, start-up
included) and what that would give on an idle host with every core busy (cores / CPU s per
sample: an estimate, exact only for perfect thread scaling). A stage profile of one step
(``--profile``, default on) shows where a step's time goes: reading and cropping the files,
log-mel, mixup + Random Resize Crop + NormalizeBatch, the forward passes (online on both
views, target on both), backward, EMA update, AdamW; next to the encoder's forward and
backward alone on one view, the hardware's share of the step.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import platform
import resource
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


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (data workers), all threads."""
    return sum(getattr(resource.getrusage(who), field) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for field in ("ru_utime", "ru_stime"))


def timed(stages: dict[str, list[float]], name: str, action):
    """Run ``action()``, adding its wall and CPU seconds to ``stages[name]``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    row = stages.setdefault(name, [0.0, 0.0])
    row[0] += time.perf_counter() - wall
    row[1] += time.process_time() - cpu
    return result


def profile_step(corpus: Path, variant: str, batch: int, steps: int) -> dict[str, list[float]]:
    """Wall and CPU seconds per stage of the recipe's step, averaged over ``steps`` steps after a
    warm-up step, with the modules the training loop uses (one process, data read in process)."""
    from hear_byols.logmel.frontend import LogMelFrontend
    from hear_byols.pretraining.augment import TwoViews
    from hear_byols.pretraining.build import loader
    from hear_byols.pretraining.data import CropDataset, epoch_batches, list_audio
    from hear_byols.pretraining.learner import ByolLearner
    from hear_byols.variants import variant_spec

    torch.manual_seed(0)
    spec = variant_spec(variant)
    learner = ByolLearner(spec.build_encoder().train(), spec.embedding_size)
    optimiser = torch.optim.AdamW([p for p in learner.parameters() if p.requires_grad], lr=3e-4)
    frontend, views = LogMelFrontend(spec.frontend), TwoViews(torch.Generator().manual_seed(0))
    dataset = CropDataset(list_audio([str(corpus)]), "random", 0)
    batches = (epoch_batches(len(dataset), batch, 1, 0, 0, 0) * (steps + 1))[: steps + 1]
    stages: dict[str, list[float]] = {}
    data = iter(loader(dataset, batches, 0))
    for step in range(steps + 1):
        if step == 1:
            stages.clear()  # the first step allocates the mixup bank and warms the kernels
        crops = timed(stages, "read + crop files", lambda: next(data)).crops
        with torch.no_grad():
            lms = timed(stages, "log-mel", lambda: frontend(crops).unsqueeze(1))
            lms = (lms - lms.mean()) / lms.std()
            view1, view2 = timed(stages, "mixup + RRC + NormalizeBatch", lambda: views(lms))
        loss, _ = timed(stages, "forward (online x2, target x2)", lambda: learner(view1, view2))
        timed(stages, "backward", loss.backward)
        timed(stages, "EMA target update", learner.update_target)
        timed(stages, "AdamW step", lambda: (optimiser.step(), optimiser.zero_grad(set_to_none=True)))
        net = learner.online_encoder.net
        timed(stages, "(encoder alone: forward + backward, one view)", lambda: net(view1).sum().backward())
        optimiser.zero_grad(set_to_none=True)
    return {name: [value / steps for value in row] for name, row in stages.items()}


def functionals_ms(name: str, repeats: int = 20) -> tuple[float, float]:
    """Wall and CPU milliseconds of openSMILE's functionals of one 0.95 s crop."""
    from hear_byols.pretraining.objectives.hybrid import Functionals

    extract, crop = Functionals(name), (0.1 * np.random.default_rng(0).standard_normal(CROP_SAMPLES)).astype(np.float32)
    extract(crop)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        extract(crop)
    return 1000 * (time.perf_counter() - wall) / repeats, 1000 * (time.process_time() - cpu) / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="default512")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the stage profile")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
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
            cpu = cpu_seconds()
            if run_pretraining(cfg):
                return 1
            per_sample = (cpu_seconds() - cpu) / (args.batch * args.steps)
            print(f"{'BYOL-S' if name is None else 'Hybrid BYOL-S, ' + name:32s} {samples_per_s(out):8.1f} samples/s  "
                  f"{per_sample:6.3f} CPU s/sample  (idle {cores}-core host: ~{cores / per_sample:.0f} samples/s)")
        if args.profile:
            print(f"# stage profile, one process, {torch.get_num_threads()} threads, batch {args.batch} "
                  f"(load average {os.getloadavg()[0]:.1f}): wall s, CPU s per step")
            stages = profile_step(corpus, args.variant, args.batch, 3)
            for stage, (wall, cpu) in stages.items():
                print(f"{stage:48s} {wall:7.3f} {cpu:7.3f}")
            step_cpu = sum(cpu for stage, (_, cpu) in stages.items() if not stage.startswith("("))
            print(f"{'step total':48s} {sum(w for s, (w, _) in stages.items() if not s.startswith('(')):7.3f} "
                  f"{step_cpu:7.3f}  (idle {cores}-core host: ~{cores * args.batch / step_cpu:.0f} samples/s)")
    for name in hybrid[1:]:
        wall, cpu = functionals_ms(name)
        print(f"openSMILE {name:22s} {wall:8.1f} ms per 0.95 s crop ({cpu:.1f} ms CPU; one process)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
