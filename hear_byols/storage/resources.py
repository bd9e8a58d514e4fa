"""Locate the package data folders ``configs/`` and ``checkpoints/``.

They live at the repository's top level (the project's layout) and are mapped into the
package as ``hear_byols.configs`` / ``hear_byols.checkpoints`` by setup.cfg, so a wheel
carries them. A plain source checkout that was never installed has no such mapping; there
we fall back to the top-level folders next to the package.
"""
from __future__ import annotations

import importlib.resources
from pathlib import Path


def package_data_dir(name: str) -> Path:
    """Directory of the package data folder ``name`` (``"configs"`` or ``"checkpoints"``)."""
    try:
        return Path(str(importlib.resources.files(f"hear_byols.{name}")))
    except ModuleNotFoundError:  # uninstalled source checkout
        return Path(__file__).resolve().parents[2] / name
