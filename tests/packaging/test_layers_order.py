"""The package's floors, top to bottom, and the one rule between them: a module imports only from
its own unit (package or top-level module) or from a lower floor, never up and never sideways.

Static (every import statement, lazy ones included), beside ``test_import_layers.py``, which checks
what a fresh interpreter loads. A new top-level module or package fails
``test_every_unit_has_a_floor`` until it is given its floor here.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hear_byols"
VARIANT_MODULES = sorted(path.stem for path in (PACKAGE.parent / "configs").glob("*.yaml"))

#: Top to bottom. Each line is one floor; the units on one floor never import each other.
FLOORS: list[tuple[str, ...]] = [
    ("hear_byols", "cli", *VARIANT_MODULES),  # what users run and import: the package, the CLI, the variants
    ("probe",),  # a labelled corpus -> speaker-independent scores (uses the engine and the statistics)
    ("stats", "export", "streaming"),  # corpus log-mel statistics; ONNX export; streaming embeddings
    ("extract", "pretraining"),  # the extraction engine and training, side by side
    ("api",),  # the HEAR functions, written once
    ("timestamps",),  # framing and the timestamp paths, on the assembled model
    ("inference",),  # model assembly from checkpoints, scene embeddings, device and precision
    ("weights", "testing"),  # weights resolution; deterministic test weights
    ("variants", "onnx_runtime"),  # the registry: one YAML per variant; the torch-free runtime (reads audio.complete)
    ("logmel", "encoders", "audio"),  # the signal path and the audio that comes in
    ("storage", "distributed", "exits", "argtypes"),  # files and processes: the floor of every entry point
    ("errors",),
]
FLOOR = {unit: len(FLOORS) - height for height, units in enumerate(FLOORS) for unit in units}
#: Packages outside ``hear_byols`` that it must never import: they use the package, not the reverse.
OUTSIDE = ("evaluation", "benchmarks", "tests")


def _unit(module: str) -> str:
    """``hear_byols.inference.model`` -> ``inference``; ``hear_byols`` -> ``hear_byols``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "configs" in parts or "checkpoints" in parts:  # package data, not code
            continue
        modules[".".join(parts).removesuffix(".__init__")] = path
    return modules


def _imports(path: Path) -> set[str]:
    """Every absolute module ``path`` imports, at any depth (a function's lazy import counts too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "hear_byols":  # from hear_byols import atomic: a module, or a name of __init__
                found.update(f"hear_byols.{alias.name}" for alias in node.names
                             if (PACKAGE / alias.name).is_dir() or (PACKAGE / f"{alias.name}.py").is_file())
    return found


def test_every_unit_has_a_floor() -> None:
    units = {_unit(module) for module in _modules()}
    assert sorted(units - set(FLOOR)) == [], "give these units a floor in FLOORS"


@pytest.mark.parametrize("module", sorted(_modules()))
def test_imports_go_down_only(module: str) -> None:
    unit = _unit(module)
    wrong = []
    for imported in sorted(_imports(_modules()[module])):
        if imported.split(".")[0] in OUTSIDE:
            wrong.append(f"{imported} (outside the package)")
        elif imported.startswith("hear_byols."):
            other = _unit(imported)
            if other != unit and other in FLOOR and FLOOR[other] >= FLOOR.get(unit, 0):
                wrong.append(f"{imported} (floor of {other!r} is not below {unit!r})")
    assert wrong == [], f"{module} imports up or sideways: {wrong}"


def test_inference_loads_no_training_cli_or_evaluation() -> None:
    """What the HEAR API and a variant module load at run time: none of the floors above them."""
    code = ("import sys, hear_byols, hear_byols.default512, hear_byols.inference.model, hear_byols.api; "
            "print(sorted(m for m in sys.modules if m.split('.')[:2] in (['hear_byols', 'cli'], "
            "['hear_byols', 'extract'], ['hear_byols', 'pretraining']) or m.split('.')[0] in "
            f"{OUTSIDE!r}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=PACKAGE.parent).stdout.strip()
    assert loaded == "[]"
