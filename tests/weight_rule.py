"""The fixtures' deterministic weight rule, written from its description in
shared/fixtures/README.md, so tests can build checkpoints without real weights.

Each state-dict entry gets its own generator seeded with crc32(key), so the values depend
only on the key name and shape, never on the order of the entries.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import torch

from hear_byols.testing import deterministic_value

MANIFEST_DIR = Path(__file__).parent / "fixtures" / "manifests"


def manifest_entries(manifest_name: str) -> list[tuple[str, list[int], str]]:
    """The ``[key, shape, dtype]`` entries of a manifest, in state-dict order."""
    with open(MANIFEST_DIR / f"{manifest_name}.json", encoding="utf-8") as fh:
        return [tuple(entry) for entry in json.load(fh)["entries"]]


def deterministic_state_dict(manifest_name: str) -> "OrderedDict[str, torch.Tensor]":
    """A full state dict for a manifest (``default``, ``cvt``, ``byola_d512``...)."""
    return OrderedDict(
        (key, deterministic_value(key, shape)) for key, shape, _ in manifest_entries(manifest_name)
    )


def write_checkpoint(manifest_name: str, path: Path) -> Path:
    """Save the deterministic state dict as a plain ``torch.save`` checkpoint file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(deterministic_state_dict(manifest_name), path)
    return path
