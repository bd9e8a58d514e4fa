"""Throughput of ``hear-byols embed`` on a corpus against the model alone, and shards against threads.

One invocation, so every ratio compares numbers from the same machine at the same time:

* model only: the Python API on the same clips already in memory (``get_scene_embeddings``
  per file, and ``--batch-size``-style batches of equal-length clips), ``--threads`` threads;
* the command line on N five-second files at 16 kHz mono, then the same sounds as 44.1 kHz
  stereo files (decoding, downmix and soxr resampling included), for several ``--workers`` /
  ``--batch-size`` settings: the command's ``main()`` timed in a process that has already
  imported torch (model load, workers' start and index writing included), and the whole
  command (``python -m hear_byols.cli``: + interpreter start and imports);
* 2 shards x 1 thread at once against 1 process x 2 threads, on the 16 kHz files (whole
  commands, A B B A).

    python benchmarks/bench_cli.py [--files 1000] [--variant default] [--threads 2] [--device cpu|cuda]
                                   [--write benchmarks/RESULTS-cli.md]

With ``--device cuda`` the model runs on the GPU (the CLI with ``--device cuda``; model-only
calls synchronise before the clock stops): the batched rows against ``--batch-size 1`` are
then the GPU's files/s of batched against per-file extraction.

Run it on an otherwise idle machine: the decoding workers and the encoder share the cores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
SECONDS = 5.0
#: (workers, batch size) settings of the command line
CLI_SETTINGS = ((0, 1), (1, 1), (1, 8))


def write_corpus(directory: Path, n_files: int, rate: int, channels: int) -> Path:
    """``n_files`` five-second noise-plus-tone files (16-bit WAV), different per file."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    t = np.arange(round(rate * SECONDS)) / rate
    for i in range(n_files):
        tone = 0.3 * np.sin(2 * np.pi * (100 + i % 400) * t)
        data = np.stack([tone + 0.05 * rng.standard_normal(len(t)) for _ in range(channels)], axis=1)
        sf.write(directory / f"f{i:05d}.wav", data, rate, subtype="PCM_16")
    return directory


def model_only(variant: str, weights: str, corpus: Path, threads: int, batch: int, device: str) -> dict:
    """Child process: files/s of the API on the decoded clips (decoding not timed)."""
    import torch

    from hear_byols.api import get_scene_embeddings, load_model
    from hear_byols.audio.files import read_audio_16k
    from hear_byols.extract.batching import batch_free_view
    from hear_byols.inference.scene import scene_embeddings

    torch.set_num_threads(threads)
    model = load_model(weights, variant=variant).to(device)
    clips = [torch.from_numpy(read_audio_16k(path).samples) for path in sorted(corpus.glob("*.wav"))]
    get_scene_embeddings(clips[0].unsqueeze(0), model)  # warm-up
    started = time.perf_counter()
    if batch == 1:
        for clip in clips:
            get_scene_embeddings(clip.unsqueeze(0), model)
    else:
        view = batch_free_view(model)
        for first in range(0, len(clips), batch):
            scene_embeddings(view, torch.stack(clips[first : first + batch]))
    if device != "cpu":
        torch.cuda.synchronize(device)
    return {"seconds": time.perf_counter() - started, "files": len(clips)}


def cli_in_process(argv: list[str]) -> dict:
    """Child process: wall seconds of the command line's ``main(argv)``, imports excluded."""
    from hear_byols.cli import main as cli_main

    started = time.perf_counter()
    status = cli_main(argv)
    if status != 0:
        raise RuntimeError(f"hear-byols {' '.join(argv)} exited {status}")
    return {"seconds": time.perf_counter() - started}


def spawn_child(**case: object) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(case["threads"]), "MKL_NUM_THREADS": str(case["threads"])}
    completed = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)], capture_output=True, text=True,
                               env=env)
    if completed.returncode != 0:
        raise RuntimeError(f"{case} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def embed_arguments(variant: str, weights: str, inputs: Path, out: Path, workers: int, batch: int, *extra: str) -> list[str]:
    return ["embed", str(inputs), "--model", variant, "--weights", weights, "--out", str(out), "--quiet",
            "--workers", str(workers), "--batch-size", str(batch), *extra]


def timed(commands: list[list[str]], threads: int) -> float:
    """Wall seconds of ``commands`` started together, each with ``threads`` torch threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for command in commands]
    for process in processes:
        _, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{process.args} failed:\n{err[-3000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--variant", default="default")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]: where the model runs")
    parser.add_argument("--write", type=Path, help="also write the table to this Markdown file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case = json.loads(args.child)
        if "argv" in case:
            print(json.dumps(cli_in_process(case["argv"])))
        else:
            print(json.dumps(model_only(case["variant"], case["weights"], Path(case["corpus"]), case["threads"],
                                        case["batch"], case["device"])))
        return 0

    from bench import machine

    from hear_byols.testing import write_deterministic_checkpoint

    with tempfile.TemporaryDirectory(prefix="hear-byols-bench-cli-") as tmp:
        root = Path(tmp)
        weights = str(write_deterministic_checkpoint(args.variant, root / f"{args.variant}.pth"))
        corpora = {
            "16 kHz mono": write_corpus(root / "in16", args.files, 16000, 1),
            "44.1 kHz stereo": write_corpus(root / "in44", args.files, 44100, 2),
        }
        load_before = os.getloadavg()
        n_run = 0

        def cli(inputs: Path, workers: int, batch: int, *extra: str) -> list[str]:
            nonlocal n_run
            n_run += 1
            return embed_arguments(args.variant, weights, inputs, root / f"out{n_run}", workers, batch,
                                   "--device", args.device, *extra)

        def model_rate(batch: int) -> float:
            result = spawn_child(variant=args.variant, weights=weights, corpus=str(corpora["16 kHz mono"]),
                                 threads=args.threads, batch=batch, device=args.device)
            return result["files"] / result["seconds"]

        def cli_rate(corpus: Path, workers: int, batch: int) -> float:
            return args.files / spawn_child(argv=cli(corpus, workers, batch), threads=args.threads)["seconds"]

        def command(argv: list[str]) -> list[str]:
            return [sys.executable, "-m", "hear_byols.cli", *argv]

        # each setting between two model-only runs (A B B A): a ratio compares neighbours in time
        rows = []
        for workers, batch in CLI_SETTINGS:
            before = model_rate(batch)
            rates = {name: cli_rate(corpus, workers, batch) for name, corpus in corpora.items()}
            after = model_rate(batch)
            rows.append((workers, batch, before, after, rates))
        import_s = timed([[sys.executable, "-c", "import hear_byols.extract.embed"]], args.threads)
        sixteen = corpora["16 kHz mono"]
        single = [timed([command(cli(sixteen, 0, 1))], args.threads)]
        sharded = [timed([command(cli(sixteen, 0, 1, "--shard", f"{i}/2")) for i in range(2)], 1) for _ in range(2)]
        single.append(timed([command(cli(sixteen, 0, 1))], args.threads))
        load_after = os.getloadavg()

    lines = [
        f"Machine: {machine(args.device)}; device {args.device}; variant `{args.variant}` (deterministic weights), "
        f"scene embeddings, {args.files} files x {SECONDS:g} s, {args.threads} threads; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (other processes ran on this machine).",
        "",
        "CLI: `main()` of `hear-byols embed` in a process that has imported torch (model load, workers and index "
        f"included; the interpreter start and imports add {import_s:.1f} s per command). Model only: the API on the "
        "same 16 kHz clips in memory, measured just before and just after the CLI rows of the same setting.",
        "",
        "| --workers | --batch-size | model only files/s (before / after) | CLI 16 kHz mono files/s | vs model only "
        "| CLI 44.1 kHz stereo files/s | vs model only |",
        "|---|---|---|---|---|---|---|",
    ]
    for workers, batch, before, after, rates in rows:
        base = (before + after) / 2
        mono, stereo = rates["16 kHz mono"], rates["44.1 kHz stereo"]
        lines.append(f"| {workers} | {batch} | {before:.1f} / {after:.1f} | {mono:.1f} | {mono / base:.0%} "
                     f"| {stereo:.1f} | {stereo / base:.0%} |")
    single_s, sharded_s = sum(single) / 2, sum(sharded) / 2
    lines += [
        "",
        "Whole commands on the 16 kHz files (`--workers 0 --batch-size 1`), order A B B A, mean of two:",
        "",
        "| setting | wall s (each) | files/s | speed-up |",
        "|---|---|---|---|",
        f"| 1 process x {args.threads} threads | {' / '.join(f'{t:.1f}' for t in single)} | "
        f"{args.files / single_s:.1f} | 1.00x |",
        f"| 2 shards x 1 thread, at once | {' / '.join(f'{t:.1f}' for t in sharded)} | "
        f"{args.files / sharded_s:.1f} | {single_s / sharded_s:.2f}x |",
    ]
    table = "\n".join(lines)
    print(table)
    if args.write:
        args.write.write_text("# Command-line throughput (benchmarks/bench_cli.py)\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
