"""Harness adapters: what the engine (evaluation/engine.py) must know of one evaluation tool.

The engine plans, schedules, locks, records and resumes steps the same way for every tool; an
adapter is a module that tells it, for the tool it wraps:

* the **commands** of each (module, task) chain: ``plan(config, weights, tasks, chains, ledger,
  log) -> list[Step]`` (evaluation/steps.py: command, dependencies, environment additions), and
  ``environment()``, what every one of its commands needs in its environment;
* the **done-files**: each Step names the file that marks it complete (written by the tool, or by
  the engine with ``marks_done``); ``chain_done(config, module, task)`` says whether a whole
  chain is, and ``chain_name(config, module)`` names a chain's results in the ledger and locks;
* the **settings and tasks**: ``check(config, tasks) -> list[str]`` refuses bad settings and task
  folders before any step, and ``make_folders(config, ledger)`` creates what its steps write into;
* a **score reader**: ``read_scores(out) -> pandas.DataFrame``, one row per (module, task, metric).

Adding one (X-ARES, MTEB's audio benchmark): write ``evaluation/harnesses/<name>.py`` with these
names (``heareval.py`` is the model; ``pretrain_probe.py`` shows a harness whose steps are Python
functions of this repository), add one line to ``HARNESSES`` below, then give it a subcommand in
evaluation/__main__.py. Adapters are imported on first use (``harness(name)``): a tool's stack
(TensorFlow, torch) is loaded only by a run that uses it.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

from evaluation.steps import Step
from evaluation.weights import Weights

HARNESSES = {
    "heareval": "evaluation.harnesses.heareval",
    "pretrain-probe": "evaluation.harnesses.pretrain_probe",
}


class Harness(Protocol):
    """The names an adapter module provides (a module satisfies this protocol structurally)."""

    def environment(self) -> dict[str, str]: ...

    def check(self, config: Any, tasks: list[str] | None) -> list[str]: ...

    def make_folders(self, config: Any, ledger_folder: Path) -> None: ...

    def chain_name(self, config: Any, module: str) -> str: ...

    def chain_done(self, config: Any, module: str, task: str) -> bool: ...

    def plan(
        self, config: Any, weights: Mapping[str, Weights], tasks: list[str], chains: set[tuple[str, str]],
        ledger_folder: Path, log: Callable[[str], None],
    ) -> list[Step]: ...

    def read_scores(self, out: Path) -> Any: ...


def harness(name: str) -> Harness:
    """The adapter registered as ``name``."""
    return importlib.import_module(HARNESSES[name])  # type: ignore[return-value]
