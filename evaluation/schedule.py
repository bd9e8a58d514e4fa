"""Run a run's steps ``--jobs N`` at a time, in dependency order, each in a job slot of its own.

A slot is an environment: on a GPU host slot ``k`` sees only the ``k``-th visible GPU
(``CUDA_VISIBLE_DEVICES``), so N jobs use N GPUs; more jobs than GPUs are refused rather than
stacked on one GPU's memory. Every slot gets ``cpus // N`` CPU threads (``OMP_NUM_THREADS``,
``MKL_NUM_THREADS``; torch and NumPy read them) so that N jobs do not oversubscribe the cores;
values the user already exported are kept.

Failures: a failed step blocks the steps that need it (its predictions) and nothing else; the
others go on, and the caller gets every record to name what failed. Ctrl-C or SIGTERM (SLURM's
``scancel``, time limit) terminates every running child, records them as interrupted, then
raises KeyboardInterrupt. SIGKILL cannot be caught: there the kernel stops the children
(evaluation/tether.py, Linux).
"""
from __future__ import annotations

import queue
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from hear_byols.errors import HearByolsError

from evaluation.tether import tethered

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Seconds a terminated child gets to exit before it is killed.
TERMINATE_GRACE_S = 10.0
FINISHED = ("done", "skipped")
#: Ctrl-C, and what SLURM sends on scancel or at the time limit: stop the children, then exit.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ScheduleError(HearByolsError, ValueError):
    """``--jobs`` that cannot be honoured on this host."""


@dataclass(frozen=True)
class Step:
    """One command of a run, the done-file that marks it complete, and the steps it waits for."""

    module: str
    task: str | None
    name: str  # "validator", "embeddings", "predictions"
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


def label(key: tuple[str, str | None, str]) -> str:
    """``("m", "t", "embeddings")`` -> ``"m t embeddings"`` (a validator has no task)."""
    return " ".join(part for part in key if part)


def visible_gpus(environ: Mapping[str, str], device_count: Callable[[], int]) -> list[str]:
    """The GPU ids a child may be given: the entries of ``CUDA_VISIBLE_DEVICES`` when it is set
    (ids, UUIDs or MIG names, passed on as they are), else ``0 .. device_count()-1``."""
    if "CUDA_VISIBLE_DEVICES" in environ:
        return [entry.strip() for entry in environ["CUDA_VISIBLE_DEVICES"].split(",") if entry.strip()]
    return [str(index) for index in range(device_count())]


def job_slots(jobs: int, gpus: Sequence[str], cpus: int, environ: Mapping[str, str]) -> list[dict[str, str]]:
    """The environment additions of each of ``jobs`` slots."""
    if jobs < 1:
        raise ScheduleError(f"--jobs {jobs}: expected at least 1")
    if gpus and jobs > len(gpus):
        raise ScheduleError(
            f"--jobs {jobs} with {len(gpus)} visible GPU(s) ({','.join(gpus)}): each job gets a GPU of its own. "
            f"Use --jobs {len(gpus)} (or fewer), or hide the GPUs (CUDA_VISIBLE_DEVICES=) to run {jobs} CPU jobs."
        )
    threads = str(max(1, cpus // jobs))
    slots = []
    for slot in range(jobs):
        env = {name: threads for name in THREAD_VARIABLES if name not in environ}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot]
        slots.append(env)
    return slots


def describe_slots(slots: Sequence[Mapping[str, str]]) -> str:
    """One line per slot, for the run's log."""
    return "; ".join(
        f"job {index}: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "inherited environment")
        for index, env in enumerate(slots)
    )


def serialized(log: Callable[[str], None]) -> Callable[[str], None]:
    """``log`` callable from several threads at once without interleaving lines."""
    lock = threading.Lock()

    def locked_log(message: str) -> None:
        with lock:
            log(message)

    return locked_log


class Children:
    """The processes running now, so that an interrupt can stop every one of them.

    Children stay in the harness's process group: Ctrl-C in a terminal and ``kill -- -PGID``
    reach them too. Each is started through evaluation/tether.py, so that on Linux a harness
    killed outright (SIGKILL) takes its running steps with it; the thread that starts a child
    must wait for it (the kernel's signal follows that thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def start(self, command: Sequence[str], **popen_options) -> subprocess.Popen:
        """``Popen(command)``, tethered to this process and remembered until ``finished``;
        refused once the run is stopping."""
        with self._lock:
            if self.stopping.is_set():
                raise KeyboardInterrupt("the run is stopping")
            process = subprocess.Popen(tethered(command), **popen_options)
            self._running.add(process)
            return process

    def finished(self, process: subprocess.Popen) -> None:
        with self._lock:
            self._running.discard(process)

    def stop_all(self) -> None:
        """SIGTERM every running child, SIGKILL what is left after the grace period."""
        self.stopping.set()
        with self._lock:
            running = list(self._running)
        for process in running:
            process.terminate()
        for process in running:
            try:
                process.wait(TERMINATE_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


Launch = Callable[[Step, Mapping[str, str], Children], dict]


def execute(
    steps: Sequence[Step], slots: Sequence[Mapping[str, str]], launch: Launch,
    on_record: Callable[[dict], None], log: Callable[[str], None] = print,
) -> list[dict]:
    """Run ``steps`` (in their order, as their dependencies allow) on ``len(slots)`` slots at once.

    ``launch(step, slot_env, children)`` runs one step and returns its record (``status``: done,
    skipped or failed); ``on_record`` is called in this thread for each record, blocked ones
    included. Returns the records in completion order."""
    keys = [step.key for step in steps]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate steps in a plan")
    known = set(keys)
    for step in steps:
        missing = [after for after in step.after if after not in known]
        if missing:
            raise ValueError(f"{step.label} waits for steps not in this plan: {missing}")
    status: dict[tuple, str] = {}
    pending = list(steps)
    free = list(range(len(slots)))
    results: queue.Queue = queue.Queue()
    children = Children()
    records: list[dict] = []
    running: dict[tuple, tuple[threading.Thread, int]] = {}
    safe_log = serialized(log)

    def work(step: Step, slot: int) -> None:
        try:
            record = launch(step, slots[slot], children)
        except KeyboardInterrupt:
            record = {"module": step.module, "task": step.task, "step": step.name, "status": "interrupted"}
        except Exception as error:  # a harness error in one step must not hang the others
            record = {"module": step.module, "task": step.task, "step": step.name, "status": "failed",
                      "error": f"{type(error).__name__}: {error}"}
            safe_log(f"[failed] {step.label}: {record['error']}")
        results.put((step, slot, record))

    def finish(step: Step, record: dict) -> None:
        status[step.key] = record["status"]
        records.append(record)
        on_record(record)

    stop = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()  # signals can only be caught there
    # a handler that only sets a flag: an exception raised at any bytecode could leave a lock of
    # the result queue held, and the workers would hang on it
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS} if in_main_thread else {}
    try:
        while pending or running:
            progressed = True
            while progressed:  # block what can never run; start what can
                progressed = False
                for step in list(pending):
                    states = [status.get(after) for after in step.after]
                    if any(state is not None and state not in FINISHED for state in states):
                        pending.remove(step)
                        failed = [label(after) for after in step.after if status.get(after) not in (None, *FINISHED)]
                        finish(step, {"module": step.module, "task": step.task, "step": step.name,
                                      "status": "blocked", "blocked_by": failed})
                        safe_log(f"[blocked] {step.label}: {', '.join(failed)} did not succeed")
                        progressed = True
                    elif free and all(state in FINISHED for state in states) and not stop.is_set():
                        pending.remove(step)
                        slot = free.pop(0)
                        thread = threading.Thread(target=work, args=(step, slot), daemon=True)
                        running[step.key] = (thread, slot)
                        thread.start()
                        progressed = True
            if stop.is_set():
                break
            if not running:
                if pending:
                    raise ValueError(f"dependency cycle among {', '.join(step.label for step in pending)}")
                break
            result = next_result(results, stop)
            if result is None:
                break
            step, slot, record = result
            running.pop(step.key)[0].join()
            free.append(slot)
            free.sort()
            finish(step, record)
        if stop.is_set():
            safe_log(f"interrupted: stopping {len(running)} running step(s)")
            children.stop_all()
            for thread, _ in running.values():
                thread.join()
            while not results.empty():
                step, _, record = results.get()
                finish(step, {**record, "status": "interrupted"} if record["status"] == "failed" else record)
            raise KeyboardInterrupt("stopped by a signal")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return records


def next_result(results: queue.Queue, stop: threading.Event):
    """The next finished step, or None once ``stop`` is set (checked every 0.2 s)."""
    while not stop.is_set():
        try:
            return results.get(timeout=0.2)
        except queue.Empty:
            continue
    return None
