"""Linear probe of pretrained encoders, as a harness: did the representation collapse, did ``--init`` wreck it?

    python -m evaluation pretrain-probe --tasks-dir work/pretrain-check/tasks --out work/probe \\
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

On the engine (evaluation/engine.py) each (encoder, task) is a chain of one step, ``probe``:
``python -m evaluation.harnesses.pretrain_probe NAME WEIGHTS TASK_DIR OUT VARIANT`` in a process of
its own writes the embeddings (``OUT/NAME.TASK.npy``) and the row (``OUT/NAME.TASK.row.json``).
Its done-file, ``OUT/done/NAME.TASK.<digest>``, is named after the variant and the weights'
content, so that a rerun skips what is done and redoes an encoder whose file changed (a run
trained further). ``OUT/probe.csv`` gets the rows of every (encoder, task) asked for.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from evaluation import engine
from evaluation.steps import Step
from evaluation.tasks import generate_tasks
from evaluation.weights import Weights
from hear_byols.api import get_scene_embeddings, load_model
from hear_byols.errors import HearByolsError, WeightsUnavailableError
from hear_byols.logmel.frontend import LogMelFrontend
from hear_byols.variants import variant_spec

#: The demo's scene tasks with one label per clip.
PROBE_TASKS = ("spoken_language_5fold", "spoken_words")
FOLDS = 5
MIN_PER_CLASS = 3 * FOLDS
CHUNK = 32  # clips per encoder call: bounds memory, results do not depend on it (fixed normalisation)
#: The folder holding ``evaluation/``: a step runs in the ledger's scratch folder and imports it from here.
REPOSITORY = Path(__file__).resolve().parents[2]
#: What a step runs: this module, in a process of its own.
STEP_MODULE = "evaluation.harnesses.pretrain_probe"


class ProbeTaskError(HearByolsError, ValueError):
    """A task folder the probe cannot use: not one label per clip, not 16 kHz, too few clips per class."""


@dataclass(frozen=True)
class ProbeConfig:
    """Everything a probe run's steps depend on."""

    tasks_dir: Path
    out: Path
    variant: str = "default512"


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
                raise ProbeTaskError(f"{folder.name}/{name}: {len(names)} labels; the probe needs exactly one per clip")
            audio, rate = sf.read(folder / "16000" / split / name, dtype="float32")
            if rate != 16000:
                raise ProbeTaskError(f"{folder.name}/{name}: {rate} Hz; the task should be 16 kHz")
            clips.append(audio)
            labels.append(names[0])
    if len({len(clip) for clip in clips}) != 1:
        raise ProbeTaskError(f"{folder.name}: clips of different lengths; a scene task here has one length")
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
        raise WeightsUnavailableError(f"{spec}: no such weight file (give a path, 'published' or 'random:SEED')")
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
        raise ProbeTaskError(f"a class has {counts.min()} clips; the probe needs {MIN_PER_CLASS} per class "
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


# --- the encoders' weights ---------------------------------------------------------------------

def encoder_weights(encoders: Sequence[tuple[str, str]]) -> dict[str, Weights]:
    """``(NAME, WEIGHTS)`` pairs -> the weights each encoder runs with, checked before any step."""
    return {name: weights_of(spec) for name, spec in encoders}


def weights_of(spec: str) -> Weights:
    """``published`` (official), ``random:SEED`` (kind ``random:SEED``, no file) or an existing file (custom)."""
    if spec == "published":
        return Weights(None, "official")
    if spec.startswith("random:"):
        return Weights(None, f"random:{int(spec.partition(':')[2])}")
    if not Path(spec).is_file():
        raise WeightsUnavailableError(f"{spec}: no such weight file (give a path, 'published' or 'random:SEED')")
    return Weights(str(Path(spec).resolve()), "custom")


def spec_of(weights: Weights) -> str:
    """The ``WEIGHTS`` a step is given: the file, ``published`` or ``random:SEED``."""
    if weights.path:
        return weights.path
    return "published" if weights.kind == "official" else weights.kind


def weights_digest(weights: Weights, variant: str) -> str:
    """What a step's result depends on besides the task: the variant and the weights' content."""
    identity = hashlib.sha256(Path(weights.path).read_bytes()).hexdigest() if weights.path else weights.kind
    return hashlib.sha256(f"{variant} {identity}".encode()).hexdigest()[:16]


# --- the harness adapter (evaluation/harnesses/__init__.py) ---------------------------------------

def environment() -> dict[str, str]:
    """A step imports ``evaluation`` from the repository, whatever its working directory."""
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPOSITORY), os.environ.get("PYTHONPATH")]))}


def check(config: ProbeConfig, tasks: list[str] | None) -> list[str]:
    """The tasks to probe (``tasks``, else ``PROBE_TASKS``), each read in full before any step."""
    names = list(tasks or PROBE_TASKS)
    for name in names:
        read_scene_task(config.tasks_dir / name)
    return names


def make_folders(config: ProbeConfig, ledger_folder: Path) -> None:
    (config.out / "done").mkdir(parents=True, exist_ok=True)


def chain_name(config: ProbeConfig, module: str) -> str:
    return module


def row_file(out: Path, name: str, task: str) -> Path:
    return Path(out) / f"{name}.{task}.row.json"


def chain_done(config: ProbeConfig, module: str, task: str) -> bool:
    return row_file(config.out, module, task).is_file()


def plan(
    config: ProbeConfig, weights: Mapping[str, Weights], tasks: list[str], chains: set[tuple[str, str]],
    ledger_folder: Path, log: Callable[[str], None],
) -> list[Step]:
    """One ``probe`` step per (encoder, task) of ``chains``, encoder by encoder."""
    steps = []
    for name, chosen in weights.items():
        digest = weights_digest(chosen, config.variant)
        for task in (task for task in tasks if (name, task) in chains):
            command = (sys.executable, "-m", STEP_MODULE, name, spec_of(chosen),
                       str((config.tasks_dir / task).resolve()), str(config.out.resolve()), config.variant)
            steps.append(Step(
                name, task, "probe", command, str(config.out / "done" / f"{name}.{task}.{digest}"),
                marks_done=True, lock_file=engine.chain_lock(config.out, name, task),
            ))
    return steps


def read_scores(out: Path) -> pd.DataFrame:
    """Every row a probe step wrote into ``out``."""
    return pd.DataFrame([json.loads(path.read_text()) for path in sorted(Path(out).glob("*.row.json"))])


# --- a step, in a process of its own ----------------------------------------------------------------

def probe_step(name: str, spec: str, task_dir: Path, out: Path, variant: str) -> dict:
    """Embed one task with one encoder, probe it, and write the embeddings and the row."""
    task = read_scene_task(task_dir)
    normalization = logmel_statistics(task, variant)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        embeddings = scene_embeddings(task, variant, weight_file(spec, variant, Path(scratch)), normalization)
    np.save(out / f"{name}.{task.name}.npy", embeddings)
    full, few = probe_accuracy(embeddings, task.labels), probe_accuracy(embeddings, task.labels, few_shot=True)
    row = {"encoder": name, "weights": spec, "task": task.name, "chance": task.chance,
           "accuracy": float(np.mean(full)), "std_folds": float(np.std(full)),
           "few_shot_accuracy": float(np.mean(few)), "few_shot_std_folds": float(np.std(few)),
           "clips": len(task.labels), "seconds": time.perf_counter() - start}
    row_file(out, name, task.name).write_text(json.dumps(row))
    return row


def describe_row(row: Mapping) -> str:
    return (f"{row['encoder']:24s} {row['task']:22s} accuracy {row['accuracy']:.3f} +- {row['std_folds']:.3f}, "
            f"few-shot {row['few_shot_accuracy']:.3f} +- {row['few_shot_std_folds']:.3f} "
            f"(chance {row['chance']:.3f}, {row['seconds']:.0f} s)")


# --- the front-end of ``python -m evaluation pretrain-probe`` ----------------------------------------

def pretrain_probe(
    config: ProbeConfig, encoders: Sequence[tuple[str, str]], tasks: list[str] | None = None,
    generate: bool = False, jobs: int = 1, log: Callable[[str], None] = print,
) -> Path:
    """Probe every encoder on every task (resumably, ``jobs`` at a time); returns ``probe.csv``."""
    if generate:
        generate_tasks(config.tasks_dir)
    weights = encoder_weights(encoders)
    names = list(tasks or PROBE_TASKS)
    config.out.mkdir(parents=True, exist_ok=True)
    engine.run(sys.modules[__name__], config, weights, names, log=log, jobs=jobs)  # this module is the adapter
    rows = [json.loads(row_file(config.out, name, task).read_text()) for name in weights for task in names]
    for row in rows:
        log(describe_row(row))
    table = config.out / "probe.csv"
    with open(table, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    log(f"table: {table}")
    return table


def main(argv: list[str]) -> int:
    """A step: ``NAME WEIGHTS TASK_DIR OUT VARIANT``."""
    name, spec, task_dir, out, variant = argv
    print(describe_row(probe_step(name, spec, Path(task_dir), Path(out), variant)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
