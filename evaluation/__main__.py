"""``python -m evaluation {tasks,run,report,demo,leaderboard}``: the harness's command line."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.runner import GRIDS, RunConfig


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evaluation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    tasks = commands.add_parser("tasks", help="generate the small offline HEAR tasks (espeak-ng speech)")
    tasks.add_argument("--out", type=Path, required=True, help="folder to write the task folders into")
    tasks.add_argument("--seed", type=int, default=0)

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

    report = commands.add_parser("report", help="score tables (CSV, Markdown) and plot of a run folder")
    report.add_argument("--out", type=Path, required=True, help="the run folder given to `run`")

    demo = commands.add_parser("demo", help="small tasks -> heareval -> report, for cvt, default and default512")
    demo.add_argument("--out", type=Path, default=Path("work/demo"))
    demo.add_argument("--grid", choices=GRIDS, default="faster")

    board = commands.add_parser("leaderboard", help="reproduce the HEAR 2021 scores on the real tasks (GPU)")
    board.add_argument("--tasks-dir", type=Path, required=True, help="folder holding the HEAR 2021 task folders")
    board.add_argument("--out", type=Path, default=Path("work/leaderboard"))
    board.add_argument("--modules", nargs="+", help="default: every variant with official weights")
    board.add_argument("--tolerance", type=float, help="accepted |ours - published| (default 0.02)")
    board.add_argument("--dry-run", action="store_true", help="print the plan and commands, run nothing")
    board.add_argument("--report-only", action="store_true",
                       help="run nothing: write the report of what the shards wrote and name what is missing")
    add_spread_options(board)
    table = commands.add_parser("variants-table", help="the README's variant table, from configs/ and the published scores")
    table.add_argument("--write", type=Path, metavar="README", help="replace the table block of this file")
    return parser.parse_args(argv)


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


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # each command imports only what it needs (the report pulls in matplotlib, the tasks espeak-ng)
    from hear_byols.errors import UsageError
    from hear_byols import exits

    from evaluation.shards import resolve_shard

    try:
        if args.command in ("run", "leaderboard"):
            shard, origin = resolve_shard(args.shard)
            if origin:
                print(origin)
        if args.command == "tasks":
            from evaluation.tasks import generate_tasks

            generate_tasks(args.out, args.seed)
        elif args.command == "run":
            from evaluation.modules_check import check_modules
            from evaluation.runner import run
            from evaluation.weights import OFFICIAL_DEFAULT, deterministic_weights, parse_weights

            check_modules(args.modules, args.model_options)
            custom = parse_weights(args.weights)
            if args.deterministic_weights is not None:
                untrained = args.deterministic_weights or args.modules
                unknown = sorted(set(untrained) - set(args.modules))
                if unknown:
                    raise UsageError(f"--deterministic-weights {unknown}: not among --modules {args.modules}")
                custom |= {module: deterministic_weights(module, args.out / "test-weights") for module in untrained}
            weights = {module: custom.get(module, OFFICIAL_DEFAULT) for module in args.modules}
            config = RunConfig(
                args.tasks_dir, args.out, args.model_options, args.grid, args.grid_points, args.validate
            )
            run(config, weights, tasks=args.tasks, jobs=args.jobs, shard=shard)
        elif args.command == "report":
            from evaluation.report import write_report

            report = write_report(args.out)
            print(report.markdown.read_text() + f"\nplot: {report.plot}")
        elif args.command == "demo":
            from evaluation.demo import demo

            demo(args.out, grid=args.grid)
        elif args.command == "variants-table":
            from evaluation.variants_table import variants_table, write_into

            if args.write:
                print(f"{args.write}: {'updated' if write_into(args.write) else 'already up to date'}")
            else:
                print(variants_table())
        else:
            from evaluation.leaderboard import DEFAULT_TOLERANCE, LEADERBOARD_MODULES, leaderboard

            modules = tuple(args.modules or LEADERBOARD_MODULES)
            tolerance = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
            return leaderboard(
                args.tasks_dir, args.out, modules, tolerance, args.dry_run,
                jobs=args.jobs, shard=shard, report_only=args.report_only,
            )
    except exits.HANDLED as error:
        return exits.report(f"python -m evaluation {args.command}", error,
                            interrupted="running steps were stopped; rerun the same command to resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
