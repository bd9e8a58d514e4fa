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
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Mapping, Sequence

from hear_byols.errors import HearByolsError

from evaluation.children import Children
from evaluation.steps import Step, label

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
FINISHED = ("done", "skipped")
#: Ctrl-C, and what SLURM sends on scancel or at the time limit: stop the children, then exit.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class ScheduleError(HearByolsError, ValueError):
    """``--jobs`` that cannot be honoured on this host."""


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


Launch = Callable[[Step, Mapping[str, str], Children], dict]


def execute(
    steps: Sequence[Step], slots: Sequence[Mapping[str, str]], launch: Launch,
    on_record: Callable[[dict], None], log: Callable[[str], None] = print,
) -> list[dict]:
    """Run ``steps`` (in their order, as their dependencies allow) on ``len(slots)`` slots at once.

    ``launch(step, slot_env, children)`` runs one step and returns its record (``status``: done,
    skipped or failed); ``on_record`` is called in this thread for each record, blocked ones
    included. Returns the records in completion order."""
    check_plan(steps)
    execution = Execution(steps, slots, launch, on_record, log)
    with stop_on_signals(execution.stop):
        return execution.run()


def check_plan(steps: Sequence[Step]) -> None:
    """Refuse a plan with a step twice, or a step waiting for one that is not in it."""
    keys = [step.key for step in steps]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate steps in a plan")
    known = set(keys)
    for step in steps:
        missing = [after for after in step.after if after not in known]
        if missing:
            raise ValueError(f"{step.label} waits for steps not in this plan: {missing}")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside, Ctrl-C and SIGTERM only set ``stop`` (signals can only be caught in the main
    thread; elsewhere nothing changes). A handler that only sets a flag: an exception raised at
    any bytecode could leave a lock of the result queue held, and the workers would hang on it."""
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in STOP_SIGNALS} if in_main_thread else {}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Execution:
    """One ``execute`` call: which steps wait, which run on which slot, how each ended.

    This thread starts steps and collects their records; each running step has a thread of its
    own that launches it and puts ``(step, slot, record)`` on ``results``."""

    def __init__(
        self, steps: Sequence[Step], slots: Sequence[Mapping[str, str]], launch: Launch,
        on_record: Callable[[dict], None], log: Callable[[str], None],
    ) -> None:
        self.pending = list(steps)
        self.slots = slots
        self.launch = launch
        self.on_record = on_record
        self.log = serialized(log)
        self.free = list(range(len(slots)))
        self.results: queue.Queue = queue.Queue()
        self.children = Children()
        self.status: dict[tuple, str] = {}
        self.records: list[dict] = []
        self.running: dict[tuple, tuple[threading.Thread, int]] = {}
        self.stop = threading.Event()

    def run(self) -> list[dict]:
        """Start what can start, collect one result, repeat; on a stop signal, ``interrupt``."""
        while self.pending or self.running:
            self.dispatch()
            if self.stop.is_set() or not self.collect_one():
                break
        if self.stop.is_set():
            self.interrupt()
        return self.records

    def dispatch(self) -> None:
        """Block what can never run and start what can, until neither changes anything."""
        progressed = True
        while progressed:
            progressed = False
            for step in list(self.pending):
                progressed = self.advance(step) or progressed

    def advance(self, step: Step) -> bool:
        """Block ``step`` if a step it needs did not succeed, start it if all did and a slot is free."""
        states = [self.status.get(after) for after in step.after]
        if any(state is not None and state not in FINISHED for state in states):
            self.block(step)
            return True
        if self.free and all(state in FINISHED for state in states) and not self.stop.is_set():
            self.start(step)
            return True
        return False

    def block(self, step: Step) -> None:
        self.pending.remove(step)
        failed = [label(after) for after in step.after if self.status.get(after) not in (None, *FINISHED)]
        self.finish(step, step.record(status="blocked", blocked_by=failed))
        self.log(f"[blocked] {step.label}: {', '.join(failed)} did not succeed")

    def start(self, step: Step) -> None:
        self.pending.remove(step)
        slot = self.free.pop(0)
        thread = threading.Thread(target=self.work, args=(step, slot), daemon=True)
        self.running[step.key] = (thread, slot)
        thread.start()

    def work(self, step: Step, slot: int) -> None:
        """A step's thread: launch it, and hand its record (never an exception) to this run."""
        try:
            record = self.launch(step, self.slots[slot], self.children)
        except KeyboardInterrupt:
            record = step.record(status="interrupted")
        except Exception as error:  # a harness error in one step must not hang the others
            record = step.record(status="failed", error=f"{type(error).__name__}: {error}")
            self.log(f"[failed] {step.label}: {record['error']}")
        self.results.put((step, slot, record))

    def collect_one(self) -> bool:
        """Wait for one running step and record it; False when nothing is left to wait for, or
        on a stop signal. Pending steps with nothing running can never start: a cycle."""
        if not self.running:
            if self.pending:
                raise ValueError(f"dependency cycle among {', '.join(step.label for step in self.pending)}")
            return False
        result = next_result(self.results, self.stop)
        if result is None:
            return False
        step, slot, record = result
        self.running.pop(step.key)[0].join()
        self.free.append(slot)
        self.free.sort()
        self.finish(step, record)
        return True

    def finish(self, step: Step, record: dict) -> None:
        self.status[step.key] = record["status"]
        self.records.append(record)
        self.on_record(record)

    def interrupt(self) -> None:
        """Stop every running child, record what they were doing as interrupted, raise."""
        self.log(f"interrupted: stopping {len(self.running)} running step(s)")
        self.children.stop_all()
        for thread, _ in self.running.values():
            thread.join()
        while not self.results.empty():
            step, _, record = self.results.get()
            self.finish(step, {**record, "status": "interrupted"} if record["status"] == "failed" else record)
        raise KeyboardInterrupt("stopped by a signal")


def next_result(results: queue.Queue, stop: threading.Event):
    """The next finished step, or None once ``stop`` is set (checked every 0.2 s)."""
    while not stop.is_set():
        try:
            return results.get(timeout=0.2)
        except queue.Empty:
            continue
    return None
