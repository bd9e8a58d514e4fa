"""Reproduce the HEAR 2021 leaderboard rows of the BYOL-S family (a GPU machine's job).

Protocol, as HEAR ran the serab_byols submission (hearbenchmark/hear2021-submitted-models,
models.json @63bdde2): the module with its official checkpoint passed as ``--model`` and no
model options, then heareval's predictions runner with its default grid (8 grid points,
deterministic). The 19 task folders are those of evaluation/hear_tasks.csv; missing ones are
named and skipped. The result is the report plus a primary-metric table with a tolerance column.
``--jobs``/``--shard`` spread the steps as in ``run``; shards never write the report: once all
have finished, ``--report-only`` merges what they wrote.
"""
from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from hear_byols.distributed import Shard
from hear_byols.errors import HearByolsError
from hear_byols.variants import variant_names, variant_spec

from evaluation import engine
from evaluation.harnesses import heareval
from evaluation.harnesses.heareval import (
    RunConfig, embeddings_command, predictions_command, task_folders, validator_command,
)
from evaluation.report import markdown_table, write_report
from evaluation.shards import select
from evaluation.weights import Weights, official_weights

HEAR_TASKS_CSV = Path(__file__).with_name("hear_tasks.csv")
#: Every variant with official weights and published HEAR scores to compare with (from configs/).
LEADERBOARD_MODULES = tuple(
    variant_spec(name).module
    for name in variant_names()
    if variant_spec(name).weight_files and variant_spec(name).hear_model_id
)
HEAR_MODEL_OPTIONS: dict = {}
HEAR_GRID = "default"
#: Absolute score difference accepted as "reproduced": heareval's downstream training is
#: seeded, but GPU kernels and library versions differ from 2021.
DEFAULT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Plan:
    config: RunConfig
    found: list[str]
    missing: list[str]
    extra: list[str]
    weights: dict[str, Weights]
    unavailable: dict[str, str]  # module -> why its weights are not here yet


def hear_task_names() -> list[str]:
    """The 19 HEAR 2021 task folder names (``tfds_crema_d-1.0.0-full``...)."""
    return pd.read_csv(HEAR_TASKS_CSV)["hear_task"].tolist()


def make_plan(tasks_dir: Path, out: Path, modules: tuple[str, ...], download: bool) -> Plan:
    """Which task folders exist and which weights each module will use (downloaded when ``download``)."""
    present = {folder.name for folder in task_folders(tasks_dir)} if Path(tasks_dir).is_dir() else set()
    names = hear_task_names()
    weights, unavailable = {}, {}
    for module in modules:
        try:
            weights[module] = official_weights(module, download=download)
        except (HearByolsError, ValueError) as error:  # a dry run reports it; a real run stops
            if download:
                raise
            weights[module] = Weights(None, "official")
            unavailable[module] = str(error)
    return Plan(
        RunConfig(Path(tasks_dir), Path(out), HEAR_MODEL_OPTIONS, HEAR_GRID, validate=True),
        [name for name in names if name in present],
        [name for name in names if name not in present],
        sorted(present - set(names)),
        weights,
        unavailable,
    )


def describe(plan: Plan, shard: Shard | None = None) -> str:
    """The plan in words and the exact commands a run (of ``shard``) executes (what ``--dry-run`` prints)."""
    total = len(plan.found) + len(plan.missing)
    lines = [f"HEAR 2021 task folders in {plan.config.tasks_dir}: {len(plan.found)} of {total} found"]
    if plan.missing:
        lines.append(f"MISSING ({len(plan.missing)} of {total}, will be skipped): " + ", ".join(plan.missing))
    if plan.extra:
        lines.append("not HEAR 2021 tasks (ignored): " + ", ".join(plan.extra))
    lines.append(f"model options {HEAR_MODEL_OPTIONS or '{}'}, grid '{plan.config.grid}' (heareval default: 8 grid points)")
    for module, weights in plan.weights.items():
        where = weights.path or f"not local yet, fetched at run time ({plan.unavailable.get(module, '')})"
        lines.append(f"{module}: weights {where}")
    chains = [(module, task) for module in plan.weights for task in plan.found]
    mine = select(chains, shard)
    lines.append(f"commands{f' of shard {shard} ({len(mine)} of {len(chains)} (module, task) chains)' if shard else ''}:")
    for module, weights in plan.weights.items():
        tasks = [task for chain_module, task in mine if chain_module == module]
        if tasks:
            lines.append("  " + shlex.join(validator_command(module, weights)))
        for task in tasks:
            lines.append("  " + shlex.join(embeddings_command(plan.config, module, task, weights)))
            lines.append("  " + shlex.join(predictions_command(plan.config, module, task)))
    return "\n".join(lines) + "\n"


def tolerance_table(report_table: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Primary metrics: ours, published, diff and whether |diff| <= tolerance."""
    table = report_table[report_table["primary"]][["module", "task", "metric", "score", "published", "diff"]].copy()
    table["tolerance"] = tolerance
    table["within"] = [
        "-" if pd.isna(diff) else ("yes" if abs(diff) <= tolerance else "NO") for diff in table["diff"]
    ]
    return table


def leaderboard(
    tasks_dir: Path, out: Path, modules: tuple[str, ...] = LEADERBOARD_MODULES,
    tolerance: float = DEFAULT_TOLERANCE, dry_run: bool = False, log: Callable[[str], None] = print,
    jobs: int = 1, shard: Shard | None = None, report_only: bool = False,
) -> int:
    """Plan (and unless ``dry_run``, run and report); returns the process exit status.

    A shard runs its part and stops; ``report_only`` writes the report of what is there."""
    plan = make_plan(tasks_dir, out, modules, download=not (dry_run or report_only))
    if report_only:
        return write_leaderboard(plan, tolerance, log)
    log(describe(plan, shard))
    if dry_run:
        return 0
    if not plan.found:
        log(f"no HEAR 2021 task folder found in {tasks_dir}: nothing to run")
        return 2
    engine.run(heareval, plan.config, plan.weights, tasks=plan.found, log=log, jobs=jobs, shard=shard)
    if shard is not None:
        log(f"shard {shard} done. When every shard is: python -m evaluation leaderboard --tasks-dir {tasks_dir} "
            f"--out {out} --report-only")
        return 0
    return write_leaderboard(plan, tolerance, log)


def write_leaderboard(plan: Plan, tolerance: float, log: Callable[[str], None]) -> int:
    """The full report and ``report/leaderboard.md`` of what the run (all its shards) wrote."""
    report = write_report(plan.config.out, title="hear_byols vs the HEAR 2021 leaderboard")
    table = tolerance_table(report.table, tolerance)
    text = markdown_table(list(table.columns), table.itertuples(index=False))
    if plan.missing:
        text += f"\nMISSING task folders (not run): {', '.join(plan.missing)}\n"
    if report.missing:
        text += f"\nMISSING scores of {len(report.missing)} planned (module, task): " + ", ".join(
            f"{module} {task}" for module, task in report.missing) + "\n"
    (plan.config.out / "report" / "leaderboard.md").write_text(text)
    log(text + f"\nfull report: {report.markdown} and {report.plot}")
    return 0
