"""The ``hear-byols`` command line: ``embed``, ``index merge``, ``verify-embeddings``, ``info``,
``download``, ``verify`` (docs/CLI.md), ``pretrain`` (docs/PRETRAINING.md), ``probe``
(docs/PROBE.md), ``stats`` (docs/STATS.md), ``export`` (docs/EXPORT.md) and ``stream``
(docs/DEPLOY.md); each of the last four in its own ``<name>_cmd`` module.

Exit status: 0 success; 1 a file failed (the others were still processed), a download or
verification failed, or the model could not be loaded; 2 a usage error (bad option, a PATH
that matches nothing), reported before any work; 130 interrupted (the index is still written).
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch

from hear_byols.api import TIMESTAMP_MODES
from hear_byols.argtypes import count, positive
from hear_byols.timestamps import DEFAULT_HOP_SIZE_MS
from hear_byols.audio.files import AUDIO_EXTENSIONS
from hear_byols.cli import export_cmd, probe_cmd, stats_cmd, stream_cmd
from hear_byols.distributed import Shard
from hear_byols.errors import InvalidOptionError, UsageError
from hear_byols.exits import HANDLED, printable, report
from hear_byols.extract.options import checked_device
from hear_byols.extract.progress import LOG
from hear_byols.extract.shards import parse_shard_option
from hear_byols.logmel.normalization import Normalization, names_stats_file, parse_normalization
from hear_byols.pretraining.options import add_arguments as add_pretrain_arguments, config_from_args
from hear_byols.variants import variant_names

def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    handler = _log_to_stderr()
    try:
        return args.run(args)
    except HANDLED as exc:
        return report(f"hear-byols {args.command}", exc)
    finally:
        LOG.removeHandler(handler)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hear-byols", description="BYOL-S speech embeddings of audio files, and their weights."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_embed(commands)
    _add_output_commands(commands)
    info = commands.add_parser("info", help="variants, embedding sizes, where weights load from, devices")
    info.add_argument("--layers", choices=variant_names(), metavar="VARIANT",
                      help="list VARIANT's layers (load_model(layer=...)) with their embedding sizes instead")
    info.set_defaults(run=_run_info)
    download = commands.add_parser("download", help="fetch and verify official weights (as load_model does)")
    download.add_argument("variants", nargs="*", metavar="VARIANT", help=f"one of {', '.join(variant_names())}")
    download.add_argument("--all", action="store_true", help="every variant with published weights")
    download.set_defaults(run=_run_download)
    verify = commands.add_parser("verify", help="re-hash every official weight file found locally")
    verify.set_defaults(run=_run_verify)
    pretrain = commands.add_parser(
        "pretrain", help="train BYOL-S / Hybrid BYOL-S on audio files (docs/PRETRAINING.md)",
        description="Train BYOL-S or Hybrid BYOL-S in this process; for several processes or GPUs run "
        "`torchrun --nproc_per_node=K -m hear_byols.pretraining` with the same options.",
    )
    add_pretrain_arguments(pretrain)
    pretrain.set_defaults(run=_run_pretrain)
    stream_cmd.add_parser(commands)
    export_cmd.add_parser(commands)
    stats_cmd.add_parser(commands)
    probe_cmd.add_parser(commands)
    return parser


def _add_embed(commands: argparse._SubParsersAction) -> None:
    embed = commands.add_parser(
        "embed",
        help="embed audio files into .npy files",
        description=f"Embed audio files ({', '.join(AUDIO_EXTENSIONS)}): downmixed to mono (mean of the channels) "
        "and resampled to 16 kHz (soxr), one .npy per file under --out, mirroring the input tree, plus index.json.",
    )
    embed.add_argument("paths", nargs="+", metavar="PATH", help="audio files, directories (recursive) or quoted globs")
    embed.add_argument("--model", required=True, choices=variant_names(), help="the variant")
    embed.add_argument("--weights", default="", metavar="FILE", help="checkpoint file (default: the official weights)")
    embed.add_argument("--out", type=Path, default=Path("embeddings"), metavar="DIR", help="output directory (default: embeddings)")
    embed.add_argument("--timestamps", action="store_true", help="timestamp embeddings (T, D) instead of one (D,) vector")
    embed.add_argument("--hop", type=positive("milliseconds"), default=DEFAULT_HOP_SIZE_MS, metavar="MS",
                       help=f"timestamp hop in ms (default {DEFAULT_HOP_SIZE_MS:g})")
    embed.add_argument("--timestamp-mode", choices=list(TIMESTAMP_MODES), default="exact",
                       help="exact (the reference numbers, default) or sliding (faster, approximate)")
    embed.add_argument("--normalization", type=_normalization, default=None, metavar="reference|per_clip|MEAN,STD|STATS.json",
                       help="log-mel normalisation (default: the variant's, 'reference' for BYOL-S); STATS.json: "
                       "fixed statistics measured by hear-byols stats")
    embed.add_argument("--device", type=_device, default=None,
                       help="cpu (default), cuda or cuda:N; under torchrun cuda means cuda:LOCAL_RANK")
    embed.add_argument("--layer", default=None, metavar="NAME",
                       help="embed an intermediate layer (hear-byols info --layers VARIANT); default: the final one")
    embed.add_argument("--workers", type=count(0), default=0, metavar="N",
                       help="processes decoding and resampling ahead of the model (default 0: in this process)")
    embed.add_argument("--batch-size", type=count(1), default=1, metavar="B",
                       help="scene mode: encode up to B files of equal length per pass (default 1: one file per pass)")
    embed.add_argument("--shard", type=_shard, default=None, metavar="I/N|auto|all",
                       help="embed only shard I of N (0-based); auto: the shard torchrun or a SLURM array gives; "
                       "all: every file. Default: a process started by torchrun takes its rank, any other every file "
                       "(inside a SLURM array, or with inherited RANK/WORLD_SIZE, pass auto or all)")
    embed.add_argument("--overwrite", action="store_true", help="recompute files whose outputs exist")
    embed.add_argument("--quiet", action="store_true", help="no progress, only the shard line and the summary")
    embed.set_defaults(run=_run_embed)


def _run_embed(args: argparse.Namespace) -> int:
    from hear_byols.extract import embed_files

    summary = embed_files(
        args.paths, args.model, args.out, weights=args.weights, timestamps=args.timestamps, hop_ms=args.hop,
        timestamp_mode=args.timestamp_mode, normalization=args.normalization, layer=args.layer, device=args.device,
        workers=args.workers, batch_size=args.batch_size, shard=args.shard, overwrite=args.overwrite, quiet=args.quiet,
    )
    return 0 if summary.ok else 1


def _add_output_commands(commands: argparse._SubParsersAction) -> None:
    index = commands.add_parser("index", help="the index of an embed output directory")
    actions = index.add_subparsers(dest="action", required=True, metavar="ACTION")
    merge = actions.add_parser("merge", help="merge the shards' index parts (and killed runs' journals) into index.json")
    merge.add_argument("out", type=Path, metavar="OUT", help="the --out directory of embed")
    merge.set_defaults(run=_run_index_merge)
    verify = commands.add_parser("verify-embeddings", help="re-hash the outputs of embed against its index")
    verify.add_argument("out", type=Path, metavar="OUT", help="the --out directory of embed")
    verify.set_defaults(run=_run_verify_embeddings)


def _run_index_merge(args: argparse.Namespace) -> int:
    from hear_byols.extract import merge_index_now

    print(printable(f"hear-byols index: merged {merge_index_now(args.out)}"), file=sys.stderr)
    return 0


def _run_verify_embeddings(args: argparse.Namespace) -> int:
    """0 when every recorded output and input matches; 1 naming each that does not."""
    from hear_byols.extract import verify_embeddings

    found = verify_embeddings(args.out)
    notes = "".join(f"; {count} {what}" for what, count in found.unchecked.items() if count)
    print(f"hear-byols verify-embeddings: {found.outputs - len(found.bad_outputs)} of {found.outputs} outputs match, "
          f"{found.unchanged_inputs} input(s) unchanged{notes}", file=sys.stderr)
    if found.problems:
        print(f"mismatching, missing or from a changed input ({len(found.problems)}); rerun the same embed command "
              "(no --overwrite needed): it recomputes exactly these", file=sys.stderr)
        print(printable("\n".join(found.problems)), file=sys.stderr)
        return 1
    return 0


def _run_info(args: argparse.Namespace) -> int:
    from hear_byols.cli.weights_cmds import run_info, run_info_layers

    return run_info_layers(args.layers) if args.layers else run_info()


def _run_download(args: argparse.Namespace) -> int:
    from hear_byols.cli.weights_cmds import run_download

    if bool(args.variants) == args.all:
        raise UsageError("name the variants to download, or pass --all (not both)")
    return run_download(args.variants, args.all)


def _run_verify(args: argparse.Namespace) -> int:
    from hear_byols.cli.weights_cmds import run_verify

    return run_verify()


def _run_pretrain(args: argparse.Namespace) -> int:
    from hear_byols.pretraining.run import run_pretraining

    return run_pretraining(config_from_args(args))


def _shard(text: str) -> Shard | str:
    try:
        return parse_shard_option(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _normalization(text: str) -> str | list[float] | Normalization:
    """``reference``, ``per_clip``, ``MEAN,STD`` or a ``stats.json`` (kept parsed: its source and
    sha256 go into the provenance), checked by the same parser as load_model."""
    value: str | list[str] = text.split(",") if "," in text and not names_stats_file(text) else text
    try:
        parsed = parse_normalization(value)
        return parsed if parsed.source else parsed.as_option()
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _device(text: str) -> torch.device:
    try:
        return checked_device(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _log_to_stderr() -> logging.Handler:
    """The engine's reports as plain ``message`` lines on the current stderr (added per call so
    tests capture them)."""
    LOG.setLevel(logging.INFO)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    LOG.addHandler(handler)
    return handler
