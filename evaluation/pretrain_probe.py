"""Linear probe of pretrained encoders: did the representation collapse, did ``--init`` wreck it?

    python -m evaluation.pretrain_probe --tasks-dir work/pretrain-check/tasks --out work/probe \\
        random42=random:42 trained42=RUN/encoder.pth published=published

Each ``NAME=WEIGHTS`` is probed on the demo's scene tasks (``evaluation/tasks.py``: spoken
language ID, 3 classes; spoken words, 10 classes): scene embeddings of every clip, then a
standardised logistic regression (``C`` picked by an inner 3-fold search) scored by accuracy
over 5 stratified folds of all clips (and, "few-shot", trained on one fold and
tested on the other four). ``WEIGHTS`` is an encoder file (``encoder.pth``, a
checkpoint), ``published`` (the variant's official weights) or ``random:SEED`` (the encoder as
``hear-byols pretrain --seed SEED`` initialises it: the starting point of that run).

Every encoder sees the same input normalisation: one fixed mean/std of the task's log-mels,
as training's ``--norm dataset`` does. That keeps the embeddings batch-independent and the
comparison about the weights alone. It is a probe, not heareval: absolute numbers differ
from ``make demo``'s (which trains heareval's MLP on the task's own splits).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from evaluation.tasks import generate_tasks
from hear_byols.api import get_scene_embeddings, load_model
from hear_byols.frontend import LogMelFrontend
from hear_byols.variants import variant_spec

#: The demo's scene tasks with one label per clip.
PROBE_TASKS = ("spoken_language_5fold", "spoken_words")
FOLDS = 5
MIN_PER_CLASS = 3 * FOLDS
CHUNK = 32  # clips per encoder call: bounds memory, results do not depend on it (fixed normalisation)


@dataclass
class SceneTask:
    """All clips of a HEAR scene task (every split pooled) and their labels."""

    name: str
    audio: np.ndarray  # (n, samples) float32, 16 kHz
    labels: np.ndarray  # (n,) str

    @property
    def chance(self) -> float:
        """Accuracy of always answering the most frequent class."""
        _, counts = np.unique(self.labels, return_counts=True)
        return float(counts.max() / counts.sum())


def read_scene_task(folder: Path) -> SceneTask:
    """A task folder in the HEAR layout (``<split>.json`` + ``16000/<split>/*.wav``)."""
    meta = json.loads((folder / "task_metadata.json").read_text())
    clips, labels = [], []
    for split in meta["splits"]:
        for name, names in json.loads((folder / f"{split}.json").read_text()).items():
            if len(names) != 1:
                raise ValueError(f"{folder.name}/{name}: {len(names)} labels; the probe needs exactly one per clip")
            audio, rate = sf.read(folder / "16000" / split / name, dtype="float32")
            if rate != 16000:
                raise ValueError(f"{folder.name}/{name}: {rate} Hz; the task should be 16 kHz")
            clips.append(audio)
            labels.append(names[0])
    if len({len(clip) for clip in clips}) != 1:
        raise ValueError(f"{folder.name}: clips of different lengths; a scene task here has one length")
    return SceneTask(folder.name, np.stack(clips), np.array(labels))


def logmel_statistics(task: SceneTask, variant: str) -> list[float]:
    """``[mean, std]`` of the log-mel values of all the task's clips (training's ``--norm dataset``)."""
    frontend = LogMelFrontend(variant_spec(variant).frontend)
    total = np.zeros(3)
    with torch.no_grad():
        for start in range(0, len(task.audio), CHUNK):
            lms = frontend(torch.from_numpy(task.audio[start : start + CHUNK])).double()
            total += [lms.numel(), float(lms.sum()), float(lms.square().sum())]
    mean = total[1] / total[0]
    return [mean, float(np.sqrt(max(total[2] / total[0] - mean * mean, 0.0)))]


def weight_file(spec: str, variant: str, scratch: Path) -> str:
    """A loadable file for ``spec``: a path, ``published`` ("" = official) or ``random:SEED``."""
    if spec == "published":
        return ""
    if spec.startswith("random:"):
        seed = int(spec.partition(":")[2])
        torch.manual_seed(seed)  # as hear_byols.pretraining.prepare.prepare initialises a run
        path = scratch / f"random{seed}.pth"
        torch.save(variant_spec(variant).build_encoder().state_dict(), path)
        return str(path)
    if not Path(spec).is_file():
        raise FileNotFoundError(f"{spec}: no such weight file (give a path, 'published' or 'random:SEED')")
    return spec


def scene_embeddings(task: SceneTask, variant: str, weights: str, normalization: list[float]) -> np.ndarray:
    model = load_model(weights, variant=variant, normalization=normalization)
    with torch.no_grad():
        parts = [get_scene_embeddings(torch.from_numpy(task.audio[start : start + CHUNK]), model)
                 for start in range(0, len(task.audio), CHUNK)]
    return torch.cat(parts).numpy()


def probe_accuracy(embeddings: np.ndarray, labels: np.ndarray, few_shot: bool = False, seed: int = 0) -> list[float]:
    """Accuracy per outer fold of a standardised logistic regression (inner search over C):
    trained on 4 folds and tested on 1, or (``few_shot``) trained on 1 and tested on the other 4,
    which separates good representations from merely usable ones when the task is easy."""
    _, counts = np.unique(labels, return_counts=True)
    if counts.min() < MIN_PER_CLASS:
        raise ValueError(f"a class has {counts.min()} clips; the probe needs {MIN_PER_CLASS} per class "
                         f"({FOLDS} folds, the few-shot fold searched by 3-fold cross-validation)")
    scores = []
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(embeddings, labels):
        if few_shot:
            train, test = test, train
        classifier = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=(0.01, 0.1, 1.0, 10.0), cv=3, max_iter=5000,
                                                                       l1_ratios=(0.0,), scoring="accuracy",
                                                                       use_legacy_attributes=False))
        classifier.fit(embeddings[train], labels[train])
        scores.append(float(classifier.score(embeddings[test], labels[test])))
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("encoders", nargs="+", metavar="NAME=WEIGHTS")
    parser.add_argument("--tasks-dir", type=Path, required=True, help="folder of HEAR tasks (evaluation.tasks)")
    parser.add_argument("--out", type=Path, required=True, help="probe.csv goes here")
    parser.add_argument("--variant", default="default512")
    parser.add_argument("--tasks", nargs="+", default=list(PROBE_TASKS), help="scene tasks under --tasks-dir")
    parser.add_argument("--generate", action="store_true", help="first write the demo's tasks into --tasks-dir "
                        "(espeak-ng; kept when already there)")
    args = parser.parse_args(argv)
    pairs = [item.partition("=")[::2] for item in args.encoders]
    if any(not name or not spec for name, spec in pairs):
        parser.error("encoders are NAME=WEIGHTS (WEIGHTS: a file, 'published' or 'random:SEED')")
    if args.generate:
        generate_tasks(args.tasks_dir)
    tasks = [read_scene_task(args.tasks_dir / name) for name in args.tasks]
    norms = {task.name: logmel_statistics(task, args.variant) for task in tasks}
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, spec in pairs:
            weights = weight_file(spec, args.variant, Path(scratch))
            for task in tasks:
                start = time.perf_counter()
                embeddings = scene_embeddings(task, args.variant, weights, norms[task.name])
                np.save(args.out / f"{name}.{task.name}.npy", embeddings)
                full, few = probe_accuracy(embeddings, task.labels), probe_accuracy(embeddings, task.labels, few_shot=True)
                row = {"encoder": name, "weights": spec, "task": task.name, "chance": task.chance,
                       "accuracy": float(np.mean(full)), "std_folds": float(np.std(full)),
                       "few_shot_accuracy": float(np.mean(few)), "few_shot_std_folds": float(np.std(few)),
                       "clips": len(task.labels), "seconds": time.perf_counter() - start}
                rows.append(row)
                print(f"{name:24s} {task.name:22s} accuracy {row['accuracy']:.3f} +- {row['std_folds']:.3f}, "
                      f"few-shot {row['few_shot_accuracy']:.3f} +- {row['few_shot_std_folds']:.3f} "
                      f"(chance {row['chance']:.3f}, {row['seconds']:.0f} s)", flush=True)
    with open(args.out / "probe.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"table: {args.out / 'probe.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
