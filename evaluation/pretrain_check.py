"""Behaviour check of pretraining: AudioNTT d=512 from scratch on ~1,200 synthetic speech clips.

    python -m evaluation.pretrain_check --out work/pretrain-check [--clips 1200] [--steps 300]

Synthesises short English utterances with espeak-ng (random voice, speed, pitch), trains
``default512`` with the recipe (batch 64, random crops) for a few hundred steps and prints the
loss curve. Expected shape: about 3.9 at the start, well under 1 within a few hundred steps,
never NaN; the exit status is 1 otherwise. A run folder that already holds a checkpoint is
resumed (exactly), so a run cut by ``--max-time`` or a kill continues where it stopped and a
finished one is only reported. ``make pretrain-check`` runs it; ``make pretrain-probe`` runs
it for three seeds and for ``--init default512``, then ``python -m evaluation pretrain-probe``.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from evaluation.speech_synthesis import SAMPLE_RATE, synthesize
from evaluation.tasks import WORDS, random_speaker
from hear_byols.pretraining.options import PretrainConfig
from hear_byols.pretraining.run import run_pretraining

NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCABULARY = WORDS + NUMBERS + ("left", "right", "stop", "go", "hello", "morning", "speech", "audio")
REPORT_STEPS = (1, 10, 25, 50, 100, 150, 200, 250, 300, 400, 500)


def make_corpus(folder: Path, clips: int, seed: int = 0) -> Path:
    """``clips`` utterances of 2-6 words, one WAV each (kept between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(clips):
        path = folder / f"utt{index:05d}.wav"
        words = " ".join(rng.choice(VOCABULARY, size=int(rng.integers(2, 7))))
        speaker = random_speaker(rng)
        if not path.is_file():
            sf.write(path, synthesize(words, speaker["voice"], speaker["speed"], speaker["pitch"]), SAMPLE_RATE)
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("work/pretrain-check"))
    parser.add_argument("--clips", type=int, default=1200)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--init", default=None, help="continue from these weights (e.g. default512) instead of scratch")
    parser.add_argument("--max-time", type=float, default=None, help="stop (checkpointed) after this many seconds")
    parser.add_argument("--run", default="run", help="run folder name under --out")
    args = parser.parse_args(argv)
    corpus = make_corpus(args.out / "corpus", args.clips)
    run_dir = args.out / args.run
    cfg = PretrainConfig(data=(str(corpus),), variant="default512", out=str(run_dir), batch_size=64,
                         max_steps=args.steps, workers=args.workers, save_every=50, seed=args.seed,
                         init=args.init, max_time=args.max_time,
                         resume=str(run_dir) if (run_dir / "checkpoint.pt").is_file() else None)
    status = run_pretraining(cfg)
    if status:
        return status
    with open(run_dir / "metrics.csv", newline="") as fh:
        losses = [float(row["loss"]) for row in csv.DictReader(fh)]
    for step in REPORT_STEPS:
        if step <= len(losses):
            print(f"step {step:4d}  loss {losses[step - 1]:.4f}")
    tail = losses[-10:]
    print(f"min {min(losses):.4f}; mean of the last {len(tail)} steps {sum(tail) / len(tail):.4f}; "
          f"curve: {run_dir / 'loss.png'}")
    if len(losses) < args.steps:
        print(f"stopped at step {len(losses)} of {args.steps} by --max-time (the run's total time): "
              "rerun without it, or with more, to continue")
        return 1
    healthy = all(math.isfinite(v) for v in losses) and losses[0] > 3.0 and sum(tail) / len(tail) < 1.0
    print("expected shape (~3.9 falling under 1, no NaN):", "yes" if healthy else "NO")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
