"""onnxruntime against torch, streaming latency, and export time, measured in one run.

Tables (Markdown), every ratio from numbers of this run on this machine:

1. scene (one 10 s clip) and exact timestamps (10 s, 201 frames) of ``default`` and ``cvt``, at 1
   and 2 threads: the exported graph in onnxruntime (``OnnxEncoder``), the torch fast path
   (``get_scene_embeddings`` / ``get_timestamp_embeddings`` with the same fixed statistics) and the
   reference modules in torch (the frontend, the statistics and ``model.encoder``'s own forward,
   frame by frame in batches for timestamps); speed-ups of onnxruntime over each, and the max
   relative error of onnxruntime against the fast path;
2. streaming (``OnnxEncoder.stream`` and the torch ``Stream``, ``default``, 1 thread) over a clip
   pushed in 20/100/250 ms chunks on a simulated real-time clock: real-time factor (compute /
   audio), and the latency from the arrival of a frame's last sample to its emission (p50/p95/max;
   add 500 ms for the latency from the frame's centre);
3. export time (``export_onnx``, including its verification) of one variant per encoder family.

Deterministic test weights (``hear_byols.testing``): no download. ``--quick``: a smoke run (short
clips, one run each, two families exported with fewer checks).

    python benchmarks/bench_onnx.py [--quick] [--runs 3]
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, load_model  # noqa: E402
from hear_byols.export import export_onnx  # noqa: E402
from hear_byols.logmel.normalization import apply_stats  # noqa: E402
from hear_byols.onnx_runtime import OnnxEncoder  # noqa: E402
from hear_byols.streaming import Stream  # noqa: E402
from hear_byols.testing import write_deterministic_checkpoint  # noqa: E402
from hear_byols.timestamps.framing import frame_grid, frames_view, pad_for_frames  # noqa: E402
from hear_byols.variants import variant_names, variant_spec  # noqa: E402

STATS = [-6.0, 3.5]
RATE = 16000
COMPARED = ("default", "cvt")
CHUNKS_MS = (20, 100, 250)
REFERENCE_FRAMES_PER_PASS = 16


def clip(seconds: float, rows: int = 1) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal((rows, t.size))).astype(np.float32)


def best_time(call: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """The fastest of ``runs`` calls (after one warm-up) and the last result."""
    result = call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return min(times), result


def reference_scene(model: Any, audio: torch.Tensor) -> torch.Tensor:
    """The reference modules: frontend, fixed statistics, ``model.encoder``'s own forward."""
    with torch.inference_mode():
        return model.encoder(apply_stats(model.frontend(audio), *STATS).unsqueeze(1))


def reference_timestamps(model: Any, audio: torch.Tensor) -> torch.Tensor:
    """Every 1 s frame materialised, then ``reference_scene`` in batches of frames."""
    grid = frame_grid(audio.shape[1], RATE, 1000.0, 50.0)
    padded = pad_for_frames(audio, grid)
    with torch.inference_mode():
        parts = [reference_scene(model, frames_view(padded, grid, first, min(REFERENCE_FRAMES_PER_PASS,
                                                                            grid.n_frames - first))[0])
                 for first in range(0, grid.n_frames, REFERENCE_FRAMES_PER_PASS)]
    return torch.cat(parts)[None]


def relative(got: np.ndarray, expected: torch.Tensor) -> float:
    expected = expected.numpy()
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def compare_row(variant: str, graph: Path, weights: Path, seconds: float, threads: int, runs: int) -> list[str]:
    """Scene and timestamp rows of one variant at one thread count."""
    torch.set_num_threads(threads)
    model = load_model(str(weights), variant=variant, normalization=STATS)
    encoder = OnnxEncoder(graph, threads=threads)
    audio = clip(seconds)
    tensor = torch.from_numpy(audio)
    rows = []
    for path, onnx_call, fast_call, reference_call in (
        ("scene", lambda: encoder.scene(audio), lambda: get_scene_embeddings(tensor, model),
         lambda: reference_scene(model, tensor)),
        ("timestamps", lambda: encoder.timestamps(audio)[0], lambda: get_timestamp_embeddings(tensor, model)[0],
         lambda: reference_timestamps(model, tensor)),
    ):
        onnx_s, onnx_out = best_time(onnx_call, runs)
        fast_s, fast_out = best_time(fast_call, runs)
        reference_s, _ = best_time(reference_call, runs)
        rows.append(f"| {variant} | {path} | {threads} | {onnx_s * 1e3:.1f} | {fast_s * 1e3:.1f} | "
                    f"{reference_s * 1e3:.1f} | {fast_s / onnx_s:.2f}x | {reference_s / onnx_s:.2f}x | "
                    f"{relative(onnx_out, fast_out):.1e} |")
    return rows


def stream_latency(stream: Any, audio: np.ndarray, chunk_ms: int) -> tuple[float, list[float]]:
    """Push ``audio`` on a simulated real-time clock: chunk j is delivered when its last sample
    has been captured, processed once the previous push is done. Returns the compute time and
    each frame's latency (s) from the arrival of its last sample to its emission."""
    chunk = chunk_ms * RATE // 1000
    busy_until, compute, latencies = 0.0, 0.0, []
    pushes = [(begin, min(begin + chunk, audio.size)) for begin in range(0, audio.size, chunk)]
    for begin, end in [*pushes, (audio.size, audio.size)]:  # the last one is the flush
        delivered = end / RATE
        start = time.perf_counter()
        _, timestamps = stream.flush() if begin == audio.size else stream.push(audio[begin:end])
        spent = time.perf_counter() - start
        compute += spent
        busy_until = max(busy_until, delivered) + spent
        for ms in np.asarray(timestamps, dtype=np.float64):  # frame centre k * hop: last sample at centre + 0.5 s
            last_sample = min(ms / 1000 + 0.5, audio.size / RATE)
            latencies.append(busy_until - last_sample)
    return compute, latencies


def stream_rows(graph: Path, weights: Path, seconds: float) -> list[str]:
    torch.set_num_threads(1)
    model = load_model(str(weights), variant="default", normalization=STATS)
    encoder = OnnxEncoder(graph, threads=1)
    audio = clip(seconds)[0]
    rows = []
    for name, make in (("onnxruntime", lambda: encoder.stream()), ("torch Stream", lambda: Stream(model))):
        for chunk_ms in CHUNKS_MS:
            make().push(audio[:RATE])  # warm-up
            compute, latencies = stream_latency(make(), audio, chunk_ms)
            p50, p95 = np.percentile(latencies, [50, 95]) * 1e3
            rows.append(f"| {name} | {chunk_ms} | {compute / seconds:.3f} | {p50:.0f} | {p95:.0f} | "
                        f"{max(latencies) * 1e3:.0f} | {len(latencies)} |")
    return rows


def family_variants() -> list[str]:
    """One variant per encoder type, the compared ones first."""
    chosen: dict[str, str] = {}
    for name in [*COMPARED, *variant_names()]:
        chosen.setdefault(variant_spec(name).encoder_type, name)
    return list(chosen.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: short clips, one run, two exports")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per case (the fastest is reported)")
    args = parser.parse_args()
    runs, seconds = (1, 3.0) if args.quick else (args.runs, 10.0)
    checks = {"check_seconds": ("min", 1.0)} if args.quick else {}
    families = family_variants()[:2] if args.quick else family_variants()
    print(f"# bench_onnx: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{'quick' if args.quick else 'full'} run, clips of {seconds:g} s, fastest of {runs}\n")
    with tempfile.TemporaryDirectory() as folder:
        root, graphs, weights, exports = Path(folder), {}, {}, []
        for variant in families:
            weights[variant] = write_deterministic_checkpoint(variant, root / f"{variant}.pth")
            graphs[variant] = root / f"{variant}.onnx"
            report = export_onnx(variant, graphs[variant], weights=str(weights[variant]), normalization=STATS, **checks)
            exports.append(f"| {variant} | {variant_spec(variant).encoder_type} | {report.export_seconds:.1f} | "
                           f"{report.verify_seconds:.1f} | {len(report.checks)} | {report.max_relative_error:.1e} |")
        print("| variant | path | threads | onnxruntime ms | torch fast ms | torch reference ms | "
              "vs fast | vs reference | max rel. error vs fast |")
        print("|---|---|---|---|---|---|---|---|---|")
        for variant in COMPARED:
            for threads in (1, 2):
                print("\n".join(compare_row(variant, graphs[variant], weights[variant], seconds, threads, runs)))
        print("\nStreaming, default, 1 thread (latency: last sample of a frame -> its emission; +500 ms from its centre)\n")
        print("| stream | chunk ms | real-time factor | p50 ms | p95 ms | max ms | frames |")
        print("|---|---|---|---|---|---|---|")
        print("\n".join(stream_rows(graphs["default"], weights["default"], seconds)))
        print("\nExport (torch.onnx dynamo export, then verification in onnxruntime)\n")
        print("| variant | encoder | export s | verify s | shapes checked | max rel. error |")
        print("|---|---|---|---|---|---|")
        print("\n".join(exports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
