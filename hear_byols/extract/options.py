"""The options of one extraction run, checked once, whoever passed them (``embed_files`` or the CLI).

A bad value is refused here with the package's exceptions before any file is touched, so a
Python caller gets the same early ``InvalidOptionError``/``UsageError`` as ``hear-byols embed``
gets its exit status 2, not a traceback from inside torch an hour into the run.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from hear_byols.api import TIMESTAMP_MODES
from hear_byols.distributed import Shard
from hear_byols.errors import InvalidOptionError
from hear_byols.extract.shards import WHOLE
from hear_byols.inference.model import ByolsModel


@dataclass(frozen=True)
class EmbedOptions:
    """The ``embed`` options, parsed and checked."""

    variant: str
    weights: str
    out_dir: Path
    timestamps: bool
    hop_ms: float
    timestamp_mode: str
    normalization: Any
    device: torch.device
    overwrite: bool
    quiet: bool
    workers: int = 0
    batch_size: int = 1
    shard: Shard = WHOLE
    #: where the shard came from (``shards.choose_shard``), printed and recorded in the run's header
    shard_source: str = "no --shard, no launcher variables"
    layer: str | None = None
    #: a model the caller loaded (``variant``, ``weights``, ``normalization``, ``layer`` are its own)
    model: ByolsModel | None = None


def checked_device(device: str | torch.device) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:N`` that exists here; InvalidOptionError otherwise."""
    text = str(device)
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise InvalidOptionError(f"{text!r}: expected cpu, cuda or cuda:N") from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidOptionError(f"{text!r}: CUDA is not available here (torch {torch.__version__}); use --device cpu")
        if (parsed.index or 0) >= torch.cuda.device_count():
            raise InvalidOptionError(f"{text!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    elif parsed.type != "cpu":
        raise InvalidOptionError(f"{text!r}: expected cpu, cuda or cuda:N")
    return parsed


def check_values(*, hop_ms: float, workers: int, batch_size: int, timestamp_mode: str | None) -> None:
    """The ranges and choices the CLI's argparse types check, also for a scene run (which ignores
    the timestamp options: a typo is still refused)."""
    if timestamp_mode is not None and timestamp_mode not in TIMESTAMP_MODES:
        raise InvalidOptionError(f"timestamp_mode={timestamp_mode!r}; choose one of {list(TIMESTAMP_MODES)}")
    if not (isinstance(hop_ms, (int, float)) and hop_ms > 0 and math.isfinite(hop_ms)):
        raise InvalidOptionError(f"hop_ms={hop_ms!r}: expected a positive number of milliseconds")
    for name, value, minimum in (("workers", workers, 0), ("batch_size", batch_size, 1)):
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise InvalidOptionError(f"{name}={value!r}: expected an integer >= {minimum}")


def model_fields(model: str | ByolsModel, load_options: dict[str, Any]) -> dict[str, Any]:
    """``EmbedOptions`` fields that name the model: a variant and how to load it, or a loaded
    model, whose load options are its own (passing them too is refused: which would win?)."""
    if isinstance(model, str):
        return {"variant": model, "weights": str(load_options["weights"] or ""), "model": None,
                "normalization": load_options["normalization"], "layer": load_options["layer"],
                "timestamp_mode": load_options["timestamp_mode"] or "exact"}
    if not isinstance(model, ByolsModel):
        raise InvalidOptionError(f"model={model!r}: expected a variant name or a model from load_model()")
    given = [name for name, value in load_options.items() if value is not None]
    if given:
        raise InvalidOptionError(f"{', '.join(given)}: options of load_model(); with a loaded model, pass them "
                                 "to load_model() instead")
    return {"variant": model.variant, "weights": str(model.weights), "model": model,
            "normalization": model.normalization.as_option(), "layer": model.layer,
            "timestamp_mode": model.timestamp_mode}
