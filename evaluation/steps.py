"""What one step of a run is, and running one: skip it when done, hold its chain's lock, start it.

A step is a command of some harness (evaluation/harnesses/) with the done-file that marks it
complete. A step whose done-file exists is skipped without starting anything. Each runs with
``cwd=<ledger>/scratch`` (heareval's predictions runner writes ``./logs``), its output in the
ledger's ``logs/``, and its environment built from this process's, then the job slot's (GPU,
threads, the harness's needs), then the step's own additions.
"""
from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from evaluation import ledger
from evaluation.children import Children


@dataclass(frozen=True)
class Step:
    """One command of a run, the done-file that marks it complete, and the steps it waits for."""

    module: str
    task: str | None
    name: str  # e.g. "validator", "embeddings", "predictions", "probe"
    command: tuple[str, ...]
    done_file: str
    after: tuple[tuple[str, str | None, str], ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # additions for this step, over the slot's
    marks_done: bool = False  # the harness (not the tool) writes the done-file
    lock_file: str | None = None  # held while the step runs: no other process may run it meanwhile

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.module, self.task, self.name)

    @property
    def label(self) -> str:
        return label(self.key)

    def record(self, **fields: object) -> dict:
        """The step's ``steps.jsonl`` record: who it is, then ``fields`` (status...)."""
        return {"module": self.module, "task": self.task, "step": self.name, **fields}


def label(key: tuple[str, str | None, str]) -> str:
    """``("m", "t", "embeddings")`` -> ``"m t embeddings"`` (a validator has no task)."""
    return " ".join(part for part in key if part)


def run_step(
    ledger_folder: Path, step: Step, slot_env: Mapping[str, str], log: Callable[[str], None],
    children: Children | None = None,
) -> dict:
    """Run one step unless its done-file exists; return its steps.jsonl record.

    A step whose lock another process holds is not run: it fails, naming the reason, rather
    than two processes writing one result folder."""
    record = step.record(command=shlex.join(step.command))
    if step.lock_file is None:
        return run_unlocked(ledger_folder, step, slot_env, log, children, record)
    with ledger.held(Path(step.lock_file)) as lock:
        if lock is not None:
            return run_unlocked(ledger_folder, step, slot_env, log, children, record, (lock,))
    record.update(status="failed", error=busy_chain(Path(step.lock_file)))
    log(f"[failed] {step.label}: {record['error']}")
    return record


def busy_chain(lock_file: Path) -> str:
    """Who holds a chain's lock, from the ``Holder`` it names, and what to do about it."""
    holder = ledger.holder(lock_file)
    if holder is None or ledger.alive(holder.harness):
        who = f" (harness pid {holder.harness}, running {holder.label} since {holder.since})" if holder else ""
        return (
            f"another process{who} holds {lock_file}: a second run, or a shard with other --shard values, is working "
            "on this (module, task) in the same --out; rerun once it is done"
        )
    if ledger.alive(holder.step):
        return (
            f"{holder.label}, pid {holder.step}, was left running by a killed run (harness pid {holder.harness}, gone; "
            f"started {holder.since}) and still holds {lock_file}: wait for it to end or stop it (kill {holder.step}), "
            "then rerun"
        )
    return (
        f"a process left by a killed run (harness pid {holder.harness}, gone; its step {holder.label}, pid {holder.step}, "
        f"ended) still holds {lock_file}, a process that step started: find it (fuser -v {lock_file}), stop it, then rerun"
    )


def run_unlocked(
    ledger_folder: Path, step: Step, slot_env: Mapping[str, str], log: Callable[[str], None],
    children: Children | None, record: dict, locks: tuple[int, ...] = (),
) -> dict:
    """``run_step`` once the step is ours to run.

    Most tools write their own done-files; for the others (``step.marks_done``) the done-file is
    written here once the command succeeded. The child inherits ``locks`` (descriptors of held
    lock files), so that they are held as long as it runs, even should it outlive a killed
    harness; each names the harness and the child (``ledger.claim``)."""
    done_file = Path(step.done_file)
    log_path = ledger_folder / "logs" / ("__".join(part for part in step.key if part) + ".log")
    if done_file.exists():
        record.update(status="skipped", wall_s=0.0)
        log(f"[skip] {step.label}: {done_file.name} exists")
        return record
    env = {**os.environ, **slot_env, **step.env}
    placement = ", ".join(f"{name}={env[name]}" for name in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS") if name in slot_env)
    log(f"[run ] {step.label} (log: {log_path}{'; ' + placement if placement else ''})")
    start = time.perf_counter()
    returncode = wait_for_child(ledger_folder, step, env, log_path, children or Children(), locks)
    record.update(wall_s=round(time.perf_counter() - start, 2), returncode=returncode)
    if step.marks_done and returncode == 0:
        done_file.write_text(record["command"] + "\n")
    record["status"] = "done" if returncode == 0 and done_file.exists() else "failed"
    record["log"] = str(log_path)
    log(f"[{record['status']}] {step.label}: {record['wall_s']:.1f} s")
    return record


def wait_for_child(
    ledger_folder: Path, step: Step, env: Mapping[str, str], log_path: Path, children: Children, locks: tuple[int, ...],
) -> int:
    """Start the step's command (output to ``log_path``), name it in its chain's lock, wait for it."""
    with open(log_path, "w") as output:
        arguments = dict(cwd=ledger_folder / "scratch", env=env, stdout=output, stderr=subprocess.STDOUT, pass_fds=locks)
        process = children.start(list(step.command), **arguments)
        for lock in locks:
            ledger.claim(lock, ledger.Holder(os.getpid(), process.pid, step.label, time.strftime("%Y-%m-%dT%H:%M:%S")))
        try:
            return process.wait()
        finally:
            children.finished(process)
