"""``hear-byols probe``'s wall time per stage on a synthetic speech corpus (issue 19's benchmark).

The corpus is espeak-ng speech (``evaluation/speech_synthesis.py``): speakers are espeak voices
with their own pitch, classes are emotion-like speaking styles (rate, pitch, loudness), each clip
one of a few sentences. One run of ``hear_byols.probe.run`` on it with the shipped default512
weights and eGeMAPS, then a second run with other classifier families over the same cache: the
table gives each stage's seconds (from run.json), its real-time factor and share, and the
rerun's time against the first (the cache's saving). The reader alone is timed beside them,
since the engine overlaps decoding with embedding.

    python benchmarks/bench_probe.py            # 1,500 clips, every family (minutes)
    python benchmarks/bench_probe.py --quick    # 120 clips, lda and logreg (a smoke run)
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: espeak voice -> base pitch (0-99): the "speakers"
VOICES = {"en-us+m1": 35, "en-us+m3": 45, "en-us+f2": 60, "en-us+f4": 70, "en-gb+m2": 40, "en-gb+f3": 65,
          "en-us+m7": 30, "en-gb+f1": 55, "en-us+m5": 50, "en-gb+f5": 75}
#: class -> (words per minute, pitch offset, gain): emotion-like styles, close enough that the per-clip
#: jitter below (JITTER) makes them overlap: a task with something to get wrong
STYLES = {"neutral": (160, 0, 0.5), "angry": (180, 8, 0.65), "sad": (145, -8, 0.4), "happy": (172, 12, 0.55)}
#: per clip, uniformly: words per minute, pitch, relative gain
JITTER = (15, 8, 0.2)
SENTENCES = ("The meeting starts at nine tomorrow morning.", "Please bring the red folder to my office.",
             "I did not expect the results to arrive so soon.", "We walked along the river until sunset.",
             "Could you tell me where the station is?", "Nobody answered the phone all afternoon.")


def make_corpus(root: Path, clips: int, speakers: int) -> tuple[Path, float]:
    """``root/clips/*.wav`` and ``root/labels.csv``; returns the table and the seconds of audio."""
    import numpy as np
    import soundfile as sf

    from evaluation.speech_synthesis import synthesize

    voices = list(VOICES.items())[:speakers]
    rows, seconds = ["path,label,speaker"], 0.0
    for i in range(clips):
        (voice, pitch), style = voices[i % len(voices)], list(STYLES)[(i // len(voices)) % len(STYLES)]
        speed, offset, gain = STYLES[style]
        rng = np.random.default_rng(i)
        speed += int(rng.integers(-JITTER[0], JITTER[0] + 1))
        offset += int(rng.integers(-JITTER[1], JITTER[1] + 1))
        gain *= float(rng.uniform(1 - JITTER[2], 1 + JITTER[2]))
        name = f"clips/{i:05d}_{style}.wav"
        audio = synthesize(SENTENCES[i % len(SENTENCES)], voice, speed, max(0, min(99, pitch + offset))) * gain
        (root / "clips").mkdir(parents=True, exist_ok=True)
        sf.write(root / name, audio, 16000, subtype="PCM_16")
        rows.append(f"{name},{style},{voice}")
        seconds += len(audio) / 16000
    table = root / "labels.csv"
    table.write_text("\n".join(rows) + "\n")
    return table, seconds


def time_reader(table: Path) -> float:
    from hear_byols.audio.files import read_audio_16k

    paths = [table.parent / line.split(",")[0] for line in table.read_text().splitlines()[1:]]
    started = time.perf_counter()
    for path in paths:
        read_audio_16k(path)
    return time.perf_counter() - started


def probe(table: Path, out: Path, cache: Path, families: tuple[str, ...], models: list[str]) -> tuple[float, dict]:
    from hear_byols.probe import run

    started = time.perf_counter()
    rows = run(out, models=models, labels=table, cache=cache, families=families, folds=5)
    return time.perf_counter() - started, {"rows": rows, "record": json.loads((out / "run.json").read_text())}


def print_table(audio_s: float, reader_s: float, first: tuple[float, dict], second: tuple[float, dict]) -> None:
    total, stages = first[0], dict(first[1]["record"]["seconds"])
    print(f"\n{'stage':<32}{'seconds':>10}{'x real time':>14}{'share':>9}")
    print(f"{'decode (the reader alone)':<32}{reader_s:>10.2f}{audio_s / reader_s:>14.0f}{'':>9}")
    for name, seconds in stages.items():
        ratio = f"{audio_s / seconds:.0f}" if seconds > 0 else "-"
        print(f"{name:<32}{seconds:>10.2f}{ratio:>14}{seconds / total:>9.0%}")
    print(f"{'whole run (first)':<32}{total:>10.2f}{audio_s / total:>14.1f}{1:>9.0%}")
    computed = second[1]["record"]["features_computed"]
    print(f"{'rerun, other families, cache warm':<32}{second[0]:>10.2f}{audio_s / second[0]:>14.1f}"
          f"{second[0] / total:>9.0%}   features computed again: "
          f"{sum(c['written'] for c in computed.values())}")


def print_scores(rows: list) -> None:
    from hear_byols.probe.results import OURS, SERAB_COMPATIBLE

    print(f"\n{'model':<14}{'choice':<44}{'family':<22}{'accuracy':>16}{'UAR':>16}")
    for r in rows:
        if r.selection in (OURS, SERAB_COMPATIBLE):
            print(f"{r.model:<14}{r.selection:<44}{r.family:<22}{r.accuracy:>9.3f}±{r.accuracy_std:.3f}"
                  f"{r.uar:>9.3f}±{r.uar_std:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120 clips, lda and logreg: a smoke run")
    parser.add_argument("--clips", type=int, default=None, help="corpus size (default 1500, --quick 120)")
    parser.add_argument("--speakers", type=int, default=10, choices=range(5, len(VOICES) + 1))
    parser.add_argument("--models", nargs="+", default=["default512", "egemaps"])
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder (kept) instead of a temporary one")
    args = parser.parse_args()
    clips = args.clips or (120 if args.quick else 1500)
    families = ("lda", "logreg") if args.quick else ("lda", "logreg", "qda", "rf", "svc")
    rerun_families = ("lda",) if args.quick else ("lda", "logreg")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        started = time.perf_counter()
        table, audio_s = make_corpus(work / "corpus", clips, args.speakers)
        print(f"corpus: {clips} clips, {args.speakers} speakers, {len(STYLES)} classes, {audio_s:.0f} s of speech "
              f"(synthesised in {time.perf_counter() - started:.1f} s)")
        reader_s = time_reader(table)
        first = probe(table, work / "run", work / "cache", families, args.models)
        second = probe(table, work / "rerun", work / "cache", rerun_families, args.models)
        print_table(audio_s, reader_s, first, second)
        print_scores(first[1]["rows"])


if __name__ == "__main__":
    main()
