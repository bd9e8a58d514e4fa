"""Speed and memory of the fast paths against the straightforward implementations.

Every case runs in its own subprocess (so its peak RSS is its own), all in one invocation,
so the ratios compare numbers measured on the same machine in the same run. Each case also
counts its floating-point work (torch's FlopCounterMode: convolutions and matrix products)
and reports the rate it achieved against a plain float32 GEMM measured in the same run: a
path near that peak is compute bound, and only doing less work can make it faster.

    python benchmarks/bench.py [--runs 3] [--threads 2] [--device cpu|cuda] [--write benchmarks/RESULTS.md]

With ``--device cuda`` the model and audio live on the GPU, every timed call ends with
``torch.cuda.synchronize()`` (CUDA calls return before the work is done) and the memory column
is the peak CUDA memory allocated by torch, not the process RSS.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BATCH, SECONDS, SAMPLE_RATE = 8, 10.0, 16000
MIN_TIMED_S, MAX_RUNS = 3.0, 15
LONG_CLIPS_S = (10, 60, 600)
#: (path, implementation) pairs timed on the 8 x 10 s batch; the first of each path is the yardstick
CASES = (
    ("scene", "per_clip_loop"),
    ("scene", "batched"),
    ("timestamp", "materialized"),
    ("timestamp", "exact"),
    ("timestamp", "sliding"),
)


def run_case(
    variant: str, path: str, impl: str, seconds: float, batch: int, runs: int, min_timed_s: float, threads: int,
    ckpt: str, count_flops: bool, device: str = "cpu",
) -> dict:
    """Child process: time one case (at least ``runs`` runs, more up to ~``min_timed_s`` of timing
    for sub-second cases, so their min/median are not one noisy sample) and report its peak RSS
    (and, with ``count_flops``, the work of one more call)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    sys.path.insert(0, str(REPO / "benchmarks"))
    from baselines import scene_per_clip_loop, timestamp_materialized

    import hear_byols.api as api

    torch.set_num_threads(threads)
    cuda = device != "cpu"
    model = api.load_model(ckpt, variant=variant, timestamp_mode="sliding" if impl == "sliding" else "exact").to(device)
    # in place: a temporary copy would add to the peak RSS that the long-clip rows measure
    audio = torch.randn(batch, int(seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(0)).mul_(0.1)
    audio = audio.to(device)
    calls = {
        ("scene", "per_clip_loop"): lambda: scene_per_clip_loop(model, audio),
        ("scene", "batched"): lambda: api.get_scene_embeddings(audio, model),
        ("timestamp", "materialized"): lambda: timestamp_materialized(model, audio),
        ("timestamp", "exact"): lambda: api.get_timestamp_embeddings(audio, model)[0],
        ("timestamp", "sliding"): lambda: api.get_timestamp_embeddings(audio, model)[0],
    }

    def call() -> torch.Tensor:
        output = calls[(path, impl)]()
        if cuda:
            torch.cuda.synchronize(device)
        return output

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    call()  # warm-up
    warm_up_s = time.perf_counter() - start
    times = []
    for _ in range(max(runs, min(MAX_RUNS, math.ceil(min_timed_s / warm_up_s)))):
        start = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - start)
    peak_mb = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"times": times, "peak_mb": peak_mb}
    if count_flops:
        flop_counter = FlopCounterMode(display=False)
        with flop_counter:
            call()
        result["gflop"] = flop_counter.get_total_flops() / 1e9
    if impl == "sliding":
        exact = api.get_timestamp_embeddings(audio, api.load_model(ckpt, variant=variant).to(device))[0]
        cosine = torch.nn.functional.cosine_similarity(output, exact, dim=-1)
        result["cosine_vs_exact"] = {"mean": cosine.mean().item(), "min": cosine.min().item()}
    return result


def gemm_peak(threads: int, device: str = "cpu", size: int = 2048, runs: int = 10) -> dict:
    """Child process: GFLOP/s of a square float32 matrix product (full float32, no TF32), best of ``runs``."""
    import torch

    from hear_byols.inference.precision import float32_kernels

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    sync = torch.cuda.synchronize if device != "cpu" else lambda: None
    times = []
    with float32_kernels("float32"):
        a @ b  # warm-up
        sync()
        for _ in range(runs):
            start = time.perf_counter()
            a @ b
            sync()
            times.append(time.perf_counter() - start)
    return {"gflops": 2 * size**3 / min(times) / 1e9}


def spawn(args: list[str]) -> dict:
    """Run this script with ``args`` in a fresh process; its last output line is its JSON result."""
    completed = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark case {args} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def spawn_case(**case: object) -> dict:
    """``run_case(**case)`` in its own process, so its peak RSS is its own."""
    return spawn(["--child", json.dumps(case)])


def default_variants() -> list[str]:
    """One variant per encoder architecture that has official weights and published scores
    (configs/): the variants users reproduce; others share these encoders' costs."""
    from hear_byols.variants import variant_names, variant_spec

    chosen: dict[str, str] = {}
    for name in variant_names():
        spec = variant_spec(name)
        if spec.weight_files and spec.hear_model_id:
            chosen.setdefault(spec.encoder_type, name)
    return list(chosen.values())


def write_checkpoints(directory: Path, variants: list[str]) -> dict[str, str]:
    from hear_byols.testing import write_deterministic_checkpoint

    return {v: str(write_deterministic_checkpoint(v, directory / f"{v}.pth")) for v in variants}


def machine(device: str = "cpu") -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    gpu = f", {torch.cuda.get_device_name(device)}" if device != "cpu" else ""
    return f"{cpu}, {os.cpu_count()} cores{gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--skip-long", action="store_true", help="skip the 10/60/600 s memory runs")
    parser.add_argument("--variants", nargs="+", help="variants to measure (default: one per encoder with published scores)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]: where model and audio live")
    parser.add_argument("--child", metavar="JSON", help=argparse.SUPPRESS)
    parser.add_argument("--child-gemm", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_gemm:
        print(json.dumps(gemm_peak(args.child_gemm, args.device)))
        return 0
    if args.child:
        print(json.dumps(run_case(**json.loads(args.child))))
        return 0

    memory = "peak RSS MB" if args.device == "cpu" else "peak CUDA MB"
    lines = [f"Machine: {machine(args.device)}; {args.threads} threads; batch {BATCH} x {SECONDS:.0f} s Gaussian noise; "
             f"1 warm-up + {args.runs} timed runs per case (sub-second cases: up to {MAX_RUNS}, ~{MIN_TIMED_S:.0f} s), each case in its own process.", ""]
    peak = spawn(["--child-gemm", str(args.threads), "--device", args.device])["gflops"]
    lines += [f"Float32 GEMM peak (2048 x 2048 matrix product, same threads, best of 10): {peak:.0f} GFLOP/s.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        variants = args.variants or default_variants()
        checkpoints = write_checkpoints(Path(tmp), variants)
        lines += ["| variant | path | implementation | min s | median s | x real time | speed-up vs straightforward | "
                  f"GFLOP per call | GFLOP/s at min (% of GEMM peak) | {memory} | cosine vs exact (mean / min) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for variant in variants:
            baseline: dict[str, float] = {}
            for path, impl in CASES:
                r = spawn_case(variant=variant, path=path, impl=impl, seconds=SECONDS, batch=BATCH, runs=args.runs,
                               min_timed_s=MIN_TIMED_S, threads=args.threads, ckpt=checkpoints[variant], count_flops=True,
                               device=args.device)
                best, median = min(r["times"]), statistics.median(r["times"])
                baseline.setdefault(path, best)
                cosine = r.get("cosine_vs_exact")
                cosine_text = f"{cosine['mean']:.3f} / {cosine['min']:.3f}" if cosine else ""
                lines.append(
                    f"| {variant} | {path} | {impl} | {best:.2f} | {median:.2f} | {BATCH * SECONDS / best:.1f} | "
                    f"{baseline[path] / best:.2f}x | {r['gflop']:.1f} | {r['gflop'] / best:.0f} ({100 * r['gflop'] / best / peak:.0f}%) | "
                    f"{r['peak_mb']:.0f} | "
                    f"{cosine_text} |"
                )
                print(lines[-1], flush=True)
        if not args.skip_long:
            what = "Peak RSS (whole process)" if args.device == "cpu" else "Peak CUDA memory (torch's allocator)"
            lines += ["", f"{what} of the exact timestamp path on one clip (1 timed run):", "",
                      f"| variant | clip s | wall s | x real time | {memory} |", "|---|---|---|---|---|"]
            for variant in variants:
                for seconds in LONG_CLIPS_S:
                    r = spawn_case(variant=variant, path="timestamp", impl="exact", seconds=seconds, batch=1, runs=1,
                                   min_timed_s=0.0, threads=args.threads, ckpt=checkpoints[variant], count_flops=False,
                                   device=args.device)
                    lines.append(f"| {variant} | {seconds} | {r['times'][0]:.1f} | {seconds / r['times'][0]:.1f} | {r['peak_mb']:.0f} |")
                    print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        args.write.write_text("# Benchmark results\n\nProduced by `make bench` (benchmarks/bench.py); method and profiles: [README.md](README.md).\n\n" + report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
