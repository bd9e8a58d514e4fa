"""Speed and memory of the fast paths against the straightforward implementations.

Every case runs in its own subprocess (so its peak RSS is its own), all in one invocation,
so the ratios compare numbers measured on the same machine in the same run.

    python benchmarks/bench.py [--runs 3] [--threads 2] [--write benchmarks/RESULTS.md]
"""
from __future__ import annotations

import argparse
import json
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
LONG_CLIPS_S = (10, 60, 600)
VARIANTS = ("default", "cvt")
#: (path, implementation) pairs timed on the 8 x 10 s batch; the first of each path is the yardstick
CASES = (
    ("scene", "per_clip_loop"),
    ("scene", "batched"),
    ("timestamp", "materialized"),
    ("timestamp", "exact"),
    ("timestamp", "sliding"),
)


def run_case(variant: str, path: str, impl: str, seconds: float, batch: int, runs: int, threads: int, ckpt: str) -> dict:
    """Child process: time one case and report its peak RSS."""
    import torch

    sys.path.insert(0, str(REPO / "benchmarks"))
    from baselines import scene_per_clip_loop, timestamp_materialized

    import hear_byols.api as api

    torch.set_num_threads(threads)
    model = api.load_model(ckpt, variant=variant, timestamp_mode="sliding" if impl == "sliding" else "exact")
    # in place: a temporary copy would add to the peak RSS that the long-clip rows measure
    audio = torch.randn(batch, int(seconds * SAMPLE_RATE), generator=torch.Generator().manual_seed(0)).mul_(0.1)
    call = {
        ("scene", "per_clip_loop"): lambda: scene_per_clip_loop(model, audio),
        ("scene", "batched"): lambda: api.get_scene_embeddings(audio, model),
        ("timestamp", "materialized"): lambda: timestamp_materialized(model, audio),
        ("timestamp", "exact"): lambda: api.get_timestamp_embeddings(audio, model)[0],
        ("timestamp", "sliding"): lambda: api.get_timestamp_embeddings(audio, model)[0],
    }[(path, impl)]
    call()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        output = call()
        times.append(time.perf_counter() - start)
    result = {"times": times, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if impl == "sliding":
        exact = api.get_timestamp_embeddings(audio, api.load_model(ckpt, variant=variant))[0]
        cosine = torch.nn.functional.cosine_similarity(output, exact, dim=-1)
        result["cosine_vs_exact"] = {"mean": cosine.mean().item(), "min": cosine.min().item()}
    return result


def spawn(args: list[str]) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark case {args} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def write_checkpoints(directory: Path) -> dict[str, str]:
    from hear_byols.testing import write_deterministic_checkpoint

    return {v: str(write_deterministic_checkpoint(v, directory / f"{v}.pth")) for v in VARIANTS}


def machine() -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", type=Path, help="also write the tables to this Markdown file")
    parser.add_argument("--skip-long", action="store_true", help="skip the 10/60/600 s memory runs")
    parser.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        variant, path, impl, seconds, batch, runs, threads, ckpt = args.child
        print(json.dumps(run_case(variant, path, impl, float(seconds), int(batch), int(runs), int(threads), ckpt)))
        return 0

    lines = [f"Machine: {machine()}; {args.threads} threads; batch {BATCH} x {SECONDS:.0f} s Gaussian noise; "
             f"1 warm-up + {args.runs} timed runs per case, each case in its own process.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        checkpoints = write_checkpoints(Path(tmp))
        lines += ["| variant | path | implementation | min s | median s | x real time | speed-up vs straightforward | peak RSS MB | cosine vs exact (mean / min) |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for variant in VARIANTS:
            baseline: dict[str, float] = {}
            for path, impl in CASES:
                r = spawn([variant, path, impl, str(SECONDS), str(BATCH), str(args.runs), str(args.threads), checkpoints[variant]])
                best, median = min(r["times"]), statistics.median(r["times"])
                baseline.setdefault(path, best)
                cosine = r.get("cosine_vs_exact")
                cosine_text = f"{cosine['mean']:.3f} / {cosine['min']:.3f}" if cosine else ""
                lines.append(
                    f"| {variant} | {path} | {impl} | {best:.2f} | {median:.2f} | {BATCH * SECONDS / best:.1f} | "
                    f"{baseline[path] / best:.2f}x | {r['peak_rss_mb']:.0f} | "
                    f"{cosine_text} |"
                )
                print(lines[-1], flush=True)
        if not args.skip_long:
            lines += ["", "Peak RSS (whole process) of the exact timestamp path on one clip (1 timed run):", "",
                      "| variant | clip s | wall s | x real time | peak RSS MB |", "|---|---|---|---|---|"]
            for variant in VARIANTS:
                for seconds in LONG_CLIPS_S:
                    r = spawn([variant, "timestamp", "exact", str(seconds), "1", "1", str(args.threads), checkpoints[variant]])
                    lines.append(f"| {variant} | {seconds} | {r['times'][0]:.1f} | {seconds / r['times'][0]:.1f} | {r['peak_rss_mb']:.0f} |")
                    print(lines[-1], flush=True)
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        args.write.write_text("# Benchmark results\n\nProduced by `make bench` (benchmarks/bench.py); method and profiles: [README.md](README.md).\n\n" + report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
