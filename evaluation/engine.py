"""The harness-agnostic engine: plan -> steps -> schedule -> ledger -> records.

A harness (evaluation/harnesses/) says which commands a (module, task) chain runs and which
done-files mark them complete; this module does the rest, the same for every harness: check the
tasks, take this shard's share of the chains (evaluation/shards.py), hold the ledger
(evaluation/ledger.py: ``<out>``, or ``<out>/shards/I-of-N`` for a shard), record the weights and
the plan, run the steps ``--jobs N`` at a time (evaluation/schedule.py, one step:
evaluation/steps.py), append every record to the ledger's ``steps.jsonl``, and name what failed.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Protocol

from hear_byols.storage.atomic import atomic_write_json
from hear_byols.distributed import Shard
from hear_byols.errors import HearByolsError

from evaluation import gpu, ledger
from evaluation.schedule import describe_slots, execute, job_slots, serialized, visible_gpus
from evaluation.shards import ledger_dir, select
from evaluation.steps import label, run_step
from evaluation.weights import Weights

if TYPE_CHECKING:
    from evaluation.harnesses import Harness

STATUSES = ("done", "skipped", "failed", "blocked")


class RunError(HearByolsError, RuntimeError):
    """A step failed, or the run's settings clash with what is already in ``out``."""


class Settings(Protocol):
    """What the engine reads of a harness's run configuration; the harness reads the rest."""

    @property
    def out(self) -> Path: ...


def run(
    harness: Harness, config: Settings, weights: dict[str, Weights], tasks: list[str] | None = None,
    log: Callable[[str], None] = print, jobs: int = 1, shard: Shard | None = None,
) -> list[dict]:
    """Every step ``harness`` plans for the (module, task) chains of this shard (all without one),
    ``jobs`` steps at a time; returns the step records.

    Every step that can run does; the run then raises RunError naming each failed step."""
    names = harness.check(config, tasks)
    log = serialized(log)  # the steps' threads and this one
    slots = job_slots(jobs, visible_gpus(os.environ, gpu.device_count), available_cpus(), os.environ)
    all_chains = sorted({(module, task) for module in weights for task in names})
    mine = select(all_chains, shard)
    folder = ledger_dir(config.out, shard)
    for name in ("scratch", "logs"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    harness.make_folders(config, folder)
    with ledger.locked(folder):
        record_weights(config.out, folder, weights)
        name_of = lambda module: harness.chain_name(config, module)  # noqa: E731
        ledger.write_plan(
            folder, str(shard) if shard else None,
            [(name_of(m), t) for m, t in all_chains], [(name_of(m), t) for m, t in mine],
        )
        steps = harness.plan(config, weights, names, set(mine), folder, log)
        log(
            (f"shard {shard}: {len(mine)} of {len(all_chains)} (module, task) chains; " if shard else "")
            + f"{jobs} job(s) at once: {describe_slots(slots)}"
        )
        environments = [{**harness.environment(), **slot} for slot in slots]
        records = execute(
            steps, environments, lambda step, env, children: run_step(folder, step, env, log, children),
            lambda record: ledger.append_record(folder, record), log,
        )
    report_outcome(harness, config, records, all_chains, mine, shard, log)
    return records


def report_outcome(
    harness: Harness, config: Settings, records: list[dict], all_chains: list[tuple[str, str]],
    mine: list[tuple[str, str]], shard: Shard | None, log: Callable[[str], None],
) -> None:
    """Log the summary (and for a shard, the other shards' chains not done yet); raise RunError
    naming every failed step."""
    counts = {status: sum(r["status"] == status for r in records) for status in STATUSES}
    log("summary: " + ", ".join(f"{count} {status}" for status, count in counts.items()))
    if shard:
        others = missing_chains(harness, config, [chain for chain in all_chains if chain not in mine])
        if others:
            log(f"other shards' chains not done yet ({len(others)} of {len(all_chains) - len(mine)}): "
                + ", ".join(f"{m} {t}" for m, t in others))
    failures = failure_summary(records)
    if failures:
        raise RunError(failures)


def chain_lock(out: Path, chain_name: str, task: str) -> str:
    """The lock file of a chain, shared by every process working in ``out``."""
    return str(Path(out) / "locks" / f"{chain_name}__{task}.lock")


def missing_chains(harness: Harness, config: Settings, chains: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (module, task) chains not done yet."""
    return [(module, task) for module, task in chains if not harness.chain_done(config, module, task)]


def available_cpus() -> int:
    """CPUs this process may use (its affinity: SLURM's and taskset's limits included)."""
    return len(os.sched_getaffinity(0))


# --- the weights ledger -------------------------------------------------------------------------

def weight_records(out: Path) -> list[tuple[Path, dict]]:
    """Every ``weights.json`` of the ledgers under ``out``, with its content."""
    paths = [folder / "weights.json" for folder in ledger.ledgers(out)]
    return [(path, json.loads(path.read_text())) for path in paths if path.is_file()]


def record_weights(out: Path, ledger_folder: Path, weights: Mapping[str, Weights]) -> None:
    """Write ``<ledger>/weights.json``; refuse weights that differ from any ledger's record for a
    module, so that results made from different checkpoints never mix in one ``out``."""
    for path, recorded in weight_records(out):
        for module, chosen in weights.items():
            before = recorded.get(module)
            if before is not None and before != asdict(chosen):
                raise RunError(
                    f"{out} already holds {module} results made with {before} ({path}); this run uses "
                    f"{asdict(chosen)}. Use another --out (or delete {out}) to avoid mixing them."
                )
    path = ledger_folder / "weights.json"
    own = json.loads(path.read_text()) if path.is_file() else {}
    atomic_write_json(path, own | {module: asdict(chosen) for module, chosen in weights.items()}, end="")


def read_weights(out: Path) -> dict[str, Weights]:
    """The weights each module of a run (all its shards) used; empty when ``out`` has no record."""
    merged: dict[str, Weights] = {}
    for _, recorded in weight_records(out):
        merged |= {module: Weights(**entry) for module, entry in recorded.items()}
    return merged


# --- what failed ----------------------------------------------------------------------------------

def record_label(record: dict) -> str:
    return label((record["module"], record["task"], record["step"]))


def failure_summary(records: list[dict]) -> str | None:
    """What failed (with the end of each log) and what it blocked; None when nothing did."""
    failed = [r for r in records if r["status"] == "failed"]
    blocked = [r for r in records if r["status"] == "blocked"]
    if not failed and not blocked:
        return None
    lines = [f"{len(failed)} step(s) failed: " + ", ".join(map(record_label, failed))]
    if blocked:
        lines.append(f"{len(blocked)} step(s) not run because a step they need failed: " + ", ".join(map(record_label, blocked)))
    for r in failed:
        if "log" in r and Path(r["log"]).is_file():
            tail = "".join(Path(r["log"]).read_text().splitlines(keepends=True)[-20:])
            lines.append(f"--- {record_label(r)} (exit {r.get('returncode')}); end of {r['log']}:\n{tail}")
        else:
            lines.append(f"--- {record_label(r)}: {r.get('error', 'failed')}")
    return "\n".join(lines)
