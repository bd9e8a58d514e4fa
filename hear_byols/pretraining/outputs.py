"""What a run leaves in RUN_DIR (written by the main process only, each file atomically):
``encoder.pth``, ``checkpoint.pt``, ``run.json``, ``metrics.csv``, ``loss.png``, ``unreadable.txt``."""
from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import Any, Mapping

import torch

from hear_byols.atomic import atomic_write

METRIC_COLUMNS = ("step", "epoch", "loss", "byol_loss", "hybrid_loss", "samples_per_s", "elapsed_s")
log = logging.getLogger("hear_byols.pretraining")


def save_torch(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: torch.save(obj, fh))


def save_json(path: Path, obj: Any) -> None:
    atomic_write(path, lambda fh: fh.write(json.dumps(obj, indent=2, sort_keys=True, default=str).encode() + b"\n"))


class Metrics:
    """``metrics.csv``, one row per optimiser step; rows past a resumed checkpoint are dropped,
    so a resumed run's file reads as if it had never stopped."""

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if resume_step is not None and path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                self.rows = [row for row in csv.DictReader(fh) if int(row["step"]) <= resume_step]

    def add(self, row: Mapping[str, float]) -> None:
        self.rows.append({key: f"{row[key]:.6g}" if key in row else "" for key in METRIC_COLUMNS})

    def write(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write(self.path, lambda fh: fh.write(text.getvalue().encode()))

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
        for column in ("loss", "byol_loss", "hybrid_loss"):
            values = [float(row[column]) if row[column] else float("nan") for row in self.rows]
            if any(v == v for v in values) and (column == "loss" or any(row["hybrid_loss"] for row in self.rows)):
                ax.plot(steps, values, label=column, linewidth=1)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel("loss")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=110))
        plt.close(fig)
        return True
