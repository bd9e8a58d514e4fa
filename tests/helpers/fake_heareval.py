"""A stand-in for heareval's runners (milliseconds instead of minutes) to test the scheduling.

``install()`` makes the heareval harness (``evaluation.harnesses.heareval``) build ``python -m helpers.fake_heareval KIND MODULE TASK DIR``
commands (and skip the task-folder check); the fake step writes what heareval's would (done-files,
the task metadata and real heareval scores from tests/fixtures/heareval/) plus start/end markers
in ``$FAKE_MARKERS`` (the start marker holds the step's ``CUDA_VISIBLE_DEVICES`` and
``OMP_NUM_THREADS``). Behaviour per step, from the environment (``MODULE:TASK:KIND`` lists):
``FAKE_FAIL`` exits 3; ``FAKE_HANG`` writes its pid to the markers and sleeps; with
``FAKE_RENDEZVOUS=N`` every embeddings step waits (up to ``FAKE_RENDEZVOUS_S`` s) until N
embeddings steps have started, which only concurrent steps can do.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "heareval" / "embeddings" / "hear_byols.default"
TASKS = ("spoken_language_5fold", "spoken_words", "tone_word_events")


def install(patch=setattr) -> None:
    """Point the heareval harness's step commands at this module (``patch``: pytest's
    ``monkeypatch.setattr`` in a test process, plain ``setattr`` in a driver process)."""
    from evaluation.harnesses import heareval as runner

    def command(kind: str, module: str, task: str) -> list[str]:
        return [sys.executable, "-m", "helpers.fake_heareval", kind, module, task]

    patch(runner, "validator_command", lambda module, weights: command("validator", module, "-") + ["-"])
    patch(runner, "embeddings_command", lambda config, module, task, weights: command("embeddings", module, task) + [
        str(runner.embed_task_dir(config, module, task))])
    patch(runner, "predictions_command", lambda config, module, task: command("predictions", module, task) + [
        str(runner.embed_task_dir(config, module, task))])
    patch(runner, "check_task_folder", lambda folder: None)


def listed(variable: str, key: str) -> bool:
    return key in os.environ.get(variable, "").split(",")


def main(kind: str, module: str, task: str, task_dir: str) -> int:
    markers = Path(os.environ["FAKE_MARKERS"])
    markers.mkdir(parents=True, exist_ok=True)
    key = f"{module}:{task}:{kind}"
    name = f"{module}__{task}__{kind}"
    placement = {variable: os.environ.get(variable) for variable in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS")}
    (markers / f"{name}.start").write_text(json.dumps(placement))
    if listed("FAKE_FAIL", key):
        print(f"boom: {key} fails on purpose")
        return 3
    if listed("FAKE_HANG", key):
        (markers / f"{name}.hang").write_text(str(os.getpid()))
        time.sleep(600)
    folder = Path(task_dir)
    if kind == "embeddings":
        wanted = int(os.environ.get("FAKE_RENDEZVOUS", "0"))
        deadline = time.monotonic() + float(os.environ.get("FAKE_RENDEZVOUS_S", "60"))
        while len(list(markers.glob("*__embeddings.start"))) < wanted:
            if time.monotonic() > deadline:
                print(f"only {len(list(markers.glob('*__embeddings.start')))} of {wanted} embeddings steps started")
                return 5
            time.sleep(0.05)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / task / "task_metadata.json", folder / "task_metadata.json")
        (folder / ".done.embeddings").write_text("")
    elif kind == "predictions":
        if not (folder / ".done.embeddings").is_file():
            print("predictions started before its embeddings were done")
            return 4
        shutil.copy(FIXTURES / task / "test.predicted-scores.json", folder / "test.predicted-scores.json")
        (folder / "prediction-done.json").write_text("{}")
    (markers / f"{name}.end").write_text(str(os.getpid()))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
