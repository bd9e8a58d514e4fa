"""``hear-byols export VARIANT --format onnx --out model.onnx``: a verified ONNX graph and its
sidecar (docs/EXPORT.md). Exit 0 only when the graph verified and both files were written; 1
when verification or writing failed (nothing written); 2 for a bad option, before any work."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from hear_byols.errors import InvalidOptionError
from hear_byols.exits import printable
from hear_byols.export import FRONTENDS, MIN, export_onnx, serving_normalization
from hear_byols.export.cases import DEFAULT_CHECK_SECONDS
from hear_byols.export.onnx_graph import check_opset
from hear_byols.logmel.normalization import names_stats_file
from hear_byols.variants import variant_names

FORMATS = ("onnx",)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``export`` on the ``hear-byols`` sub-command parser."""
    export = commands.add_parser(
        "export", help="export a variant to a verified ONNX graph with a sidecar JSON (docs/EXPORT.md)",
        description="Export VARIANT to ONNX (dynamic batch and time axes), check it in onnxruntime against "
        "get_scene_embeddings at several lengths and batch sizes, and write OUT and OUT.json only if every "
        "shape is within 1e-5 relative error.",
    )
    export.add_argument("variant", choices=variant_names(), metavar="VARIANT", help=f"one of {', '.join(variant_names())}")
    export.add_argument("--format", choices=FORMATS, default="onnx", help="the graph format (onnx)")
    export.add_argument("--out", type=Path, required=True, metavar="FILE", help="the graph file (its folder must exist); the sidecar is FILE.json")
    export.add_argument("--weights", default="", metavar="FILE", help="checkpoint file (default: the official weights)")
    export.add_argument("--normalization", type=_normalization, default="per_clip", metavar="per_clip|stats.json|MEAN,STD",
                        help="log-mel normalisation in the graph (default per_clip; 'reference' is refused: it uses batch statistics)")
    export.add_argument("--frontend", choices=FRONTENDS, default="include",
                        help="include: audio (batch, samples) in (default); exclude: normalised log-mel (batch, 64, frames) in")
    export.add_argument("--layer", default=None, metavar="NAME", help="an intermediate layer (hear-byols info --layers VARIANT)")
    export.add_argument("--opset", type=_opset, default=None, metavar="N", help="ONNX opset (default: the exporter's)")
    export.add_argument("--check-seconds", type=_seconds, default=list(DEFAULT_CHECK_SECONDS), metavar="LIST",
                        help="clip lengths the graph is verified at, comma-separated seconds or 'min' (the shortest "
                        "the model accepts); each at batch sizes 1 and 2 (default: min,1,10,30)")
    export.set_defaults(run=_run_export)


def _normalization(text: str) -> Any:
    """``per_clip``, a stats file or ``MEAN,STD``, checked as ``export_onnx`` checks it."""
    value: Any = text.split(",") if "," in text and not names_stats_file(text) else text
    try:
        serving_normalization(value)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _seconds(text: str) -> list[object]:
    """``min,1,10.5``: each entry ``min`` or a positive finite number of seconds."""
    values: list[object] = []
    for entry in text.split(","):
        entry = entry.strip()
        if entry == MIN:
            values.append(MIN)
            continue
        try:
            seconds = float(entry)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds > 0):
            raise argparse.ArgumentTypeError(f"{entry!r} in {text!r}: expected positive seconds or {MIN!r}, comma-separated")
        values.append(seconds)
    return values


def _opset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected an integer opset") from None
    try:
        check_opset(value)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _run_export(args: argparse.Namespace) -> int:
    report = export_onnx(
        args.variant, args.out, weights=args.weights, normalization=args.normalization, frontend=args.frontend,
        layer=args.layer, opset=args.opset, check_seconds=args.check_seconds,
    )
    print(f"{'checked shape':<30} {'input':>14}  max |onnx - torch| / max |torch| (vs the exported modules in torch)")
    print(report.table())
    size_mb = report.path.stat().st_size / 1e6
    print(printable(
        f"wrote {report.path} ({size_mb:.1f} MB, opset {report.opset}) and {report.sidecar_path.name}; "
        f"exported in {report.export_seconds:.1f} s, verified in {report.verify_seconds:.1f} s"
    ))
    return 0
