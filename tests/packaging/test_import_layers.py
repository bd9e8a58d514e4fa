"""Imports flow one way (DESIGN.md section 2): the CLI sits on top, so nothing below imports it.

Each check runs in a fresh interpreter, as ``sys.modules`` of the test process already holds
whatever earlier tests imported.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_after(module: str) -> list[str]:
    """The ``hear_byols`` modules a fresh interpreter holds after ``import module``."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(m for m in sys.modules if m.startswith('hear_byols'))))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def within(modules: list[str], package: str) -> list[str]:
    return [name for name in modules if name == package or name.startswith(package + ".")]


@pytest.mark.parametrize(("module", "beside"), [
    ("hear_byols.pretraining.data", "hear_byols.extract"),
    ("hear_byols.pretraining.loop", "hear_byols.extract"),
    ("hear_byols.extract", "hear_byols.pretraining"),
])
def test_pretraining_and_the_engine_never_import_the_cli(module: str, beside: str) -> None:
    """Nor each other: they sit side by side (docs/CONTRIBUTING.md)."""
    loaded = loaded_after(module)
    assert within(loaded, "hear_byols.cli") == [] and within(loaded, beside) == []


def test_pretraining_data_loads_neither_the_cli_nor_the_hear_api() -> None:
    loaded = loaded_after("hear_byols.pretraining.data")
    assert within(loaded, "hear_byols.cli") == [] and within(loaded, "hear_byols.api") == []
    assert "hear_byols.audio.inputs" in loaded  # the discovery it shares with embed, from below


def test_the_package_api_is_still_there_on_first_use() -> None:
    """``hear_byols`` imports its API lazily (for the test above); its public names still work."""
    code = ("import hear_byols; from hear_byols import get_scene_embeddings; import hear_byols.cvt as cvt; "
            "print(hear_byols.load_model is cvt.load_model, get_scene_embeddings is cvt.get_scene_embeddings, "
            "'list_layers' in dir(hear_byols), 'cvt' in [v.name for v in hear_byols.list_variants()])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["True"] * 4
