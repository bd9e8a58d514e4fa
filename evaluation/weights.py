"""Which checkpoint each module runs with, and the demo's loud fallback to test weights.

Official weights come from ``hear_byols.weights.resolve_weights`` (``$HEAR_BYOLS_WEIGHTS_DIR``,
the package's checkpoints folder, the user cache, else a verified download). When none can be
had (offline, no override) the demo writes deterministic untrained weights with
``hear_byols.testing`` so the loop still runs, and says so in the log and in every report.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hear_byols.errors import HearByolsError, UsageError
from hear_byols.testing import write_deterministic_checkpoint
from hear_byols.variants import module_variant
from hear_byols.weights import candidate_paths, resolve_weights
from hear_byols.weights.env import WEIGHTS_DIR_ENV

DETERMINISTIC = "deterministic test weights"


@dataclass(frozen=True)
class Weights:
    """The checkpoint a module runs with (None: load_model() finds the official one) and its kind."""

    path: str | None
    kind: str  # "official", "custom" or DETERMINISTIC


#: No checkpoint path: heareval calls ``load_model()``, which resolves the official weights itself.
OFFICIAL_DEFAULT = Weights(None, "official")


def variant_of(module: str) -> str:
    """``hear_byols.cvt`` -> ``cvt``; the top-level ``hear_byols`` module is ``PACKAGE_VARIANT``."""
    variant = module_variant(module)
    if variant is None:
        raise UsageError(f"{module!r} is not a hear_byols module (hear_byols.default, hear_byols.cvt...)")
    return variant


def parse_weights(pairs: list[str]) -> dict[str, Weights]:
    """``MODULE=PATH`` command-line pairs -> custom weights per module."""
    out = {}
    for pair in pairs:
        module, sep, path = pair.partition("=")
        if not sep or not Path(path).is_file():
            raise UsageError(f"--weights {pair!r}: expected MODULE=PATH to an existing checkpoint file")
        out[module] = Weights(str(Path(path).resolve()), "custom")
    return out


def official_weights(module: str, download: bool = True) -> Weights:
    """The official checkpoint of ``module`` (downloaded on first use when ``download``)."""
    return Weights(str(resolve_weights(variant_of(module), download=download)), "official")


def override_note(module: str) -> str:
    """Where the weights override directory points, and whether it holds ``module``'s file."""
    folder = os.environ.get(WEIGHTS_DIR_ENV, "").strip()
    if not folder:
        return f"${WEIGHTS_DIR_ENV} is not set"
    label, path = candidate_paths(variant_of(module))[0]
    state = "found" if path.is_file() else "NOT found"
    return f"{label}={folder} is honoured: {path.name} {state} there"


def deterministic_weights(module: str, folder: Path) -> Weights:
    """Untrained deterministic weights of ``module``'s variant, written to ``folder`` (CI, offline)."""
    path = write_deterministic_checkpoint(variant_of(module), Path(folder) / f"{variant_of(module)}.pth")
    return Weights(str(path), DETERMINISTIC)


def demo_weights(module: str, fallback_dir: Path, log: Callable[[str], None] = print) -> Weights:
    """Official weights if they can be had, else deterministic test weights, announced loudly."""
    try:
        weights = official_weights(module)
        log(f"{module}: official weights {weights.path} ({override_note(module)})")
        return weights
    except HearByolsError as error:
        weights = deterministic_weights(module, fallback_dir)
        banner = "!" * 100
        log(
            f"{banner}\n!! {module}: OFFICIAL WEIGHTS UNAVAILABLE ({error})\n"
            f"!! {override_note(module)}.\n"
            f"!! Falling back to DETERMINISTIC TEST WEIGHTS {weights.path}: the loop runs, but the scores are\n"
            f"!! NOT meaningful compared with the published ones. To use the official weights offline,\n"
            f"!! put the file in a folder and set {WEIGHTS_DIR_ENV} to it (or run `hear-byols download`).\n"
            f"{banner}"
        )
        return weights
