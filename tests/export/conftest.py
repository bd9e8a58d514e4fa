"""Shared fixtures of the export tests: deterministic checkpoints (no downloads) and exports."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from hear_byols.testing import write_deterministic_checkpoint

#: One variant per encoder family, exported once per test session at short lengths.
FAMILIES = {"audio_ntt": "default", "cvt": "cvt", "clstm": "clstm", "resnetish": "resnetish34"}
#: The default run checks the shortest input and 1 s, at batch sizes 1 and 2 (30 s: the slow tests).
SHORT_CHECKS = ("min", 1.0)


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory):
    """``checkpoint(variant)``: the path of the variant's deterministic test checkpoint."""
    folder, made = tmp_path_factory.mktemp("checkpoints"), {}

    def checkpoint(variant: str) -> Path:
        if variant not in made:
            made[variant] = write_deterministic_checkpoint(variant, folder / f"{variant}.pt")
        return made[variant]

    return checkpoint


@pytest.fixture(scope="session")
def family_exports(tmp_path_factory: pytest.TempPathFactory, checkpoints):
    """``export(family)``: the ExportReport of that family's variant, made once (per_clip, frontend
    included, SHORT_CHECKS), with its export time."""
    from hear_byols.export import export_onnx

    folder, made = tmp_path_factory.mktemp("exports"), {}

    def export(family: str):
        if family not in made:
            variant = FAMILIES[family]
            started = time.perf_counter()
            report = export_onnx(variant, folder / f"{variant}.onnx", weights=str(checkpoints(variant)),
                                 check_seconds=SHORT_CHECKS)
            made[family] = (report, time.perf_counter() - started)
        return made[family][0]

    return export
