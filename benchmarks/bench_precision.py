"""CPU time of the reduced precisions against float32, per variant (docs/PRECISION.md).

bf16 and fp16 are meant for GPUs; on a CPU, autocast runs many encoder kernels through slow
reduced-precision paths. This measures how slow: scene embeddings of one batch, each precision
timed in turn (interleaved, so a change in the machine's load hits all of them), the median of
``--runs``, with deterministic weights (speed does not depend on their values). The calls go
to the scene path below the API's finiteness check: resnetish34's deterministic weights overflow
fp16 (the API raises ModelNumericsError), and the time is what is measured here.

    python benchmarks/bench_precision.py [--variants resnetish34 clstm default cvt] [--runs 3] [--threads 1]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hear_byols.api import load_model
from hear_byols.inference.scene import scene_embeddings
from hear_byols.testing import write_deterministic_checkpoint

PRECISIONS = ("float32", "bf16", "fp16")


def time_precisions(variant: str, audio: torch.Tensor, runs: int, weights: Path) -> dict[str, float]:
    """Median seconds of one scene call per precision (one warm-up call each, not timed)."""
    models = {p: load_model(str(weights), variant=variant, precision=p) for p in PRECISIONS}
    times: dict[str, list[float]] = {p: [] for p in PRECISIONS}
    for precision, model in models.items():
        scene_embeddings(model, audio)
    for _ in range(runs):
        for precision, model in models.items():
            start = time.perf_counter()
            scene_embeddings(model, audio)
            times[precision].append(time.perf_counter() - start)
    return {p: statistics.median(t) for p, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["resnetish34", "clstm", "default", "cvt"])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clips", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    audio = torch.rand(args.clips, int(args.seconds * 16000), generator=torch.Generator().manual_seed(0)) * 0.2 - 0.1
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.clips} x {args.seconds:g} s, "
          f"median of {args.runs}; load average before: {os.getloadavg()}")
    print("| variant | float32 (s) | bf16 (s) | fp16 (s) | bf16 / float32 | fp16 / float32 |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            weights = write_deterministic_checkpoint(variant, Path(tmp) / f"{variant}.pth")
            t = time_precisions(variant, audio, args.runs, weights)
            print(f"| {variant} | {t['float32']:.3f} | {t['bf16']:.3f} | {t['fp16']:.3f} | "
                  f"{t['bf16'] / t['float32']:.1f}x | {t['fp16'] / t['float32']:.1f}x |", flush=True)
    print(f"load average after: {os.getloadavg()}; CPU: {_cpu_name()}")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
