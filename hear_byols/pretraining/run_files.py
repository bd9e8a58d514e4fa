"""How a run's files are written (by the main process only, each atomically): ``metrics.csv``
and ``loss.png`` (``Metrics``), and the bytes of ``checkpoint.pt``, ``encoder.pth`` and JSON files.
``state.save`` writes all but the plot together, with ``atomic.atomic_write_all``."""
from __future__ import annotations

import csv
import io
import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from hear_byols.storage import atomic
from hear_byols.storage.atomic import atomic_write, atomic_write_json

log = logging.getLogger("hear_byols.pretraining")


def torch_bytes(obj: Any) -> bytes:
    """What ``torch.save`` writes for ``obj`` (to hash a file before it is written)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


#: How a run folder's JSON files are written: sorted keys, anything else (paths) as its str.
JSON_FORMAT: dict[str, Any] = {"indent": 2, "sort_keys": True, "default": str}


def json_bytes(obj: Any) -> bytes:
    return atomic.json_bytes(obj, **JSON_FORMAT)


def save_json(path: Path, obj: Any) -> None:
    atomic_write_json(path, obj, **JSON_FORMAT)


class Metrics:
    """``metrics.csv``, one row per optimiser step. A resumed run starts from the rows of the
    checkpoint's RUN_DIR up to its step (rows past it are dropped), so the file of a resumed run,
    in the same RUN_DIR or another, reads as if the run had never stopped."""

    def __init__(self, path: Path, losses: Sequence[str], resumed_from: Path | None = None,
                 resume_step: int = 0) -> None:
        """``losses``: the loss columns (every registered objective's, the run's own filled)."""
        self.path, self.losses = path, tuple(losses)
        self.columns = ("step", "epoch", *self.losses, "samples_per_s", "elapsed_s")
        self.rows: list[dict[str, str]] = []
        if resumed_from is not None and resumed_from.is_file():
            with open(resumed_from, newline="", encoding="utf-8") as fh:
                self.rows = [row for row in csv.DictReader(fh) if int(row["step"]) <= resume_step]
        if resumed_from is not None and len(self.rows) != resume_step:
            log.warning(f"pretrain: {resumed_from} holds {len(self.rows)} of the checkpoint's {resume_step} steps; "
                        "the loss history of the missing ones is lost")

    def csv_bytes(self) -> bytes:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=self.columns, restval="", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.rows)
        return text.getvalue().encode()

    def add(self, row: Mapping[str, float]) -> None:
        self.rows.append({key: f"{row[key]:.6g}" if key in row else "" for key in self.columns})

    def plot(self, path: Path) -> bool:
        """The loss curve as a PNG; skipped (returns False) without matplotlib."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            log.info("matplotlib is not installed: no loss plot (pip install 'hear_byols[train]')")
            return False
        steps = [int(row["step"]) for row in self.rows]
        fig, ax = plt.subplots(figsize=(7, 4))
        for column in self._plotted():
            values = [float(row[column]) if row.get(column) else float("nan") for row in self.rows]
            ax.plot(steps, values, label=column, linewidth=1)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
        plt.close(fig)
        return True

    def _plotted(self) -> list[str]:
        """The total, and its parts when it has several (one part would repeat the total)."""
        filled = [column for column in self.losses if any(row.get(column) for row in self.rows)]
        return filled if len(filled) > 2 else filled[:1]
