"""``python -m evaluation {tasks,run,report,demo,leaderboard,variants-table,pretrain-probe}``: the harness's command line.

Each subcommand is one function, ``command_<name>(args) -> exit status``, set as its parser's
``run``; ``main`` parses, calls it, and maps errors to exit statuses.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.harnesses.heareval import GRIDS, RunConfig
from evaluation.weights import Weights


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    tasks = commands.add_parser("tasks", help="generate the small offline HEAR tasks (espeak-ng speech)")
    tasks.add_argument("--out", type=Path, required=True, help="folder to write the task folders into")
    tasks.add_argument("--seed", type=int, default=0)
    tasks.set_defaults(run=command_tasks)

    add_run_parser(commands)

    report = commands.add_parser("report", help="score tables (CSV, Markdown) and plot of a run folder")
    report.add_argument("--out", type=Path, required=True, help="the run folder given to `run`")
    report.set_defaults(run=command_report)

    demo = commands.add_parser("demo", help="small tasks -> heareval -> report, for cvt, default and default512")
    demo.add_argument("--out", type=Path, default=Path("work/demo"))
    demo.add_argument("--grid", choices=GRIDS, default="faster")
    demo.set_defaults(run=command_demo)

    add_leaderboard_parser(commands)
    table = commands.add_parser("variants-table", help="the README's variant table, from configs/ and the published scores")
    table.add_argument("--write", type=Path, metavar="README", help="replace the table block of this file")
    table.set_defaults(run=command_variants_table)
    add_probe_parser(commands)
    return parser.parse_args(argv)


def add_run_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser("run", help="hear-validator + heareval embeddings + predictions, resumable")
    run.add_argument("--modules", nargs="+", required=True, help="e.g. hear_byols.cvt hear_byols.default")
    run.add_argument("--tasks-dir", type=Path, required=True, help="folder of HEAR task folders")
    run.add_argument("--out", type=Path, required=True, help="run folder (embeddings, logs, steps.jsonl, report)")
    run.add_argument("--tasks", nargs="+", help="only these task folder names (default: all in --tasks-dir)")
    run.add_argument("--weights", nargs="+", default=[], metavar="MODULE=PATH",
                     help="checkpoint per module (default: the official weights, resolved by load_model)")
    run.add_argument("--deterministic-weights", nargs="*", metavar="MODULE",
                     help="untrained deterministic checkpoints (hear_byols.testing) for these modules (none named: "
                     "every module): CI, offline; the report flags their scores as not meaningful; replaces --weights")
    run.add_argument("--model-options", type=model_options, default={},
                     help="JSON object passed to load_model (as heareval does), e.g. '{\"normalization\": \"per_clip\"}'")
    run.add_argument("--grid", choices=GRIDS, default="faster", help="heareval predictions grid")
    run.add_argument("--grid-points", type=int, help="heareval grid points (default: heareval's 8)")
    run.add_argument("--validate", action="store_true", help="run hear-validator on each module first")
    add_spread_options(run)
    run.set_defaults(run=command_run)


def add_leaderboard_parser(commands: argparse._SubParsersAction) -> None:
    board = commands.add_parser("leaderboard", help="reproduce the HEAR 2021 scores on the real tasks (GPU)")
    board.add_argument("--tasks-dir", type=Path, required=True, help="folder holding the HEAR 2021 task folders")
    board.add_argument("--out", type=Path, default=Path("work/leaderboard"))
    board.add_argument("--modules", nargs="+", help="default: every variant with official weights")
    board.add_argument("--tolerance", type=float, help="accepted |ours - published| (default 0.02)")
    board.add_argument("--dry-run", action="store_true", help="print the plan and commands, run nothing")
    board.add_argument("--report-only", action="store_true",
                       help="run nothing: write the report of what the shards wrote and name what is missing")
    add_spread_options(board)
    board.set_defaults(run=command_leaderboard)


def add_probe_parser(commands: argparse._SubParsersAction) -> None:
    probe = commands.add_parser(
        "pretrain-probe", help="linear probe of pretrained encoders on the small scene tasks (make pretrain-probe)")
    probe.add_argument("encoders", nargs="+", type=encoder, metavar="NAME=WEIGHTS",
                       help="WEIGHTS: an encoder file, 'published' (official weights) or 'random:SEED'")
    probe.add_argument("--tasks-dir", type=Path, required=True, help="folder of HEAR tasks (evaluation.tasks)")
    probe.add_argument("--out", type=Path, required=True, help="probe.csv goes here")
    probe.add_argument("--variant", default="default512")
    probe.add_argument("--tasks", nargs="+", help="scene tasks under --tasks-dir (default: the demo's two scene tasks)")
    probe.add_argument("--generate", action="store_true", help="first write the demo's tasks into --tasks-dir "
                       "(espeak-ng; kept when already there)")
    probe.add_argument("--jobs", type=positive_int, default=1, metavar="N", help="probe N (encoder, task) at once")
    probe.set_defaults(run=command_pretrain_probe)


def add_spread_options(parser: argparse.ArgumentParser) -> None:
    """``--jobs`` and ``--shard``, shared by ``run`` and ``leaderboard``."""
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="run N (module, task) steps at once: one GPU each (N <= visible GPUs), or one "
                        "process each with CPUs/N threads on a CPU host (default 1)")
    parser.add_argument("--shard", metavar="I/N",
                        help="run only shard I (0-based) of N of the (module, task) chains, e.g. 0/4; default: "
                        "SLURM_ARRAY_TASK_ID/COUNT inside a SLURM array job, else all; 'all' runs everything")


def positive_int(text: str) -> int:
    """``--jobs``: a whole number of at least 1."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of jobs, at least 1")
    return int(text)


def model_options(text: str) -> dict:
    """``--model-options``: a JSON object (heareval passes it to load_model as keyword arguments)."""
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON ({exc})") from None
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError(
            f"{text!r} is a JSON {type(options).__name__}; pass an object of load_model options, "
            "e.g. '{\"normalization\": \"per_clip\"}'"
        )
    return options


def encoder(text: str) -> tuple[str, str]:
    """``pretrain-probe``'s ``NAME=WEIGHTS``."""
    name, _, weights = text.partition("=")
    if not name or not weights:
        raise argparse.ArgumentTypeError(
            f"{text!r}: encoders are NAME=WEIGHTS (WEIGHTS: a file, 'published' or 'random:SEED')")
    return name, weights


# --- one function per subcommand ------------------------------------------------------------------

def command_tasks(args: argparse.Namespace) -> int:
    from evaluation.tasks import generate_tasks

    generate_tasks(args.out, args.seed)
    return 0


def command_run(args: argparse.Namespace) -> int:
    from evaluation import engine
    from evaluation.harnesses import harness
    from evaluation.modules_check import check_modules

    shard = chosen_shard(args.shard)
    check_modules(args.modules, args.model_options)
    weights = run_weights(args.modules, args.weights, args.deterministic_weights, args.out)
    config = RunConfig(args.tasks_dir, args.out, args.model_options, args.grid, args.grid_points, args.validate)
    engine.run(harness("heareval"), config, weights, tasks=args.tasks, jobs=args.jobs, shard=shard)
    return 0


def chosen_shard(argument: str | None):
    """``--shard`` or the SLURM array's shard, said when there is one."""
    from evaluation.shards import resolve_shard

    shard, origin = resolve_shard(argument)
    if origin:
        print(origin)
    return shard


def run_weights(
    modules: list[str], pairs: list[str], deterministic: list[str] | None, out: Path,
) -> dict[str, Weights]:
    """The checkpoint of each module: ``--weights``, else deterministic test weights
    (``--deterministic-weights``), else the official ones."""
    from hear_byols.errors import UsageError

    from evaluation.weights import OFFICIAL_DEFAULT, deterministic_weights, parse_weights

    custom = parse_weights(pairs)
    if deterministic is not None:
        untrained = deterministic or modules
        unknown = sorted(set(untrained) - set(modules))
        if unknown:
            raise UsageError(f"--deterministic-weights {unknown}: not among --modules {modules}")
        custom |= {module: deterministic_weights(module, out / "test-weights") for module in untrained}
    return {module: custom.get(module, OFFICIAL_DEFAULT) for module in modules}


def command_report(args: argparse.Namespace) -> int:
    from evaluation.report import write_report

    report = write_report(args.out)
    print(report.markdown.read_text() + f"\nplot: {report.plot}")
    return 0


def command_demo(args: argparse.Namespace) -> int:
    from evaluation.demo import demo

    demo(args.out, grid=args.grid)
    return 0


def command_variants_table(args: argparse.Namespace) -> int:
    from evaluation.variants_table import variants_table, write_into

    if args.write:
        print(f"{args.write}: {'updated' if write_into(args.write) else 'already up to date'}")
    else:
        print(variants_table())
    return 0


def command_leaderboard(args: argparse.Namespace) -> int:
    from evaluation.leaderboard import DEFAULT_TOLERANCE, LEADERBOARD_MODULES, leaderboard

    shard = chosen_shard(args.shard)
    modules = tuple(args.modules or LEADERBOARD_MODULES)
    tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    return leaderboard(
        args.tasks_dir, args.out, modules, tolerance, args.dry_run,
        jobs=args.jobs, shard=shard, report_only=args.report_only,
    )


def command_pretrain_probe(args: argparse.Namespace) -> int:
    from evaluation.harnesses.pretrain_probe import ProbeConfig, pretrain_probe

    config = ProbeConfig(args.tasks_dir, args.out, args.variant)
    pretrain_probe(config, args.encoders, args.tasks, generate=args.generate, jobs=args.jobs)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # each command imports only what it needs (the report pulls in matplotlib, the tasks espeak-ng)
    from hear_byols import exits

    try:
        return args.run(args)
    except exits.HANDLED as error:
        return exits.report(f"python -m evaluation {args.command}", error,
                            interrupted="running steps were stopped; rerun the same command to resume")

if __name__ == "__main__":
    sys.exit(main())
