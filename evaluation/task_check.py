"""Check a HEAR task folder before heareval reads it.

heareval asserts or raises deep inside its runners (after minutes of embedding) when
``task_metadata.json``, ``labelvocabulary.csv`` or a split file is malformed, and the user
sees its traceback in a log. The checks here cover what its runners read, and each message
names the file, the problem and what a valid folder holds.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
TRAINVALTEST = ["train", "valid", "test"]
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "task_name": (str,), "embedding_type": (str,), "prediction_type": (str,), "split_mode": (str,),
    "splits": (list,), "evaluation": (list,), "sample_duration": (int, float, type(None)),
}
_CHOICES = {"embedding_type": ("scene", "event"), "prediction_type": ("multiclass", "multilabel"), "split_mode": SPLIT_MODES}


class TaskFolderError(ValueError):
    """A task folder that heareval would fail on."""


def check_task_folder(folder: Path) -> None:
    """Raise TaskFolderError naming the first problem of ``folder``."""
    if not folder.is_dir():
        raise TaskFolderError(f"{folder}: no such task folder; --tasks names folders directly under --tasks-dir")
    metadata = _check_metadata(folder / "task_metadata.json")
    labels = _check_vocabulary(folder / "labelvocabulary.csv")
    for split in metadata["splits"]:
        _check_split(folder / f"{split}.json", metadata["embedding_type"], labels)


def _check_metadata(path: Path) -> dict[str, Any]:
    metadata = _read_json(path)
    if not isinstance(metadata, dict):
        raise TaskFolderError(f"{path}: must hold a JSON object (the task's metadata), found {type(metadata).__name__}")
    for key, types in _METADATA_TYPES.items():
        if key not in metadata or not isinstance(metadata[key], types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise TaskFolderError(f"{path}: {key!r} must be {expected}, found {metadata.get(key, 'nothing')!r}")
    for key, choices in _CHOICES.items():
        if metadata[key] not in choices:
            raise TaskFolderError(f"{path}: {key}={metadata[key]!r}; heareval knows {', '.join(choices)}")
    for key in ("splits", "evaluation"):
        if not metadata[key] or not all(isinstance(item, str) for item in metadata[key]):
            raise TaskFolderError(f"{path}: {key!r} must be a non-empty list of names, found {metadata[key]!r}")
    if metadata["split_mode"] == "trainvaltest" and sorted(metadata["splits"]) != sorted(TRAINVALTEST):
        raise TaskFolderError(f"{path}: split_mode 'trainvaltest' needs the splits {TRAINVALTEST}, found {metadata['splits']}")
    return metadata


def _check_vocabulary(path: Path) -> set[str]:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise TaskFolderError(f"{path}: cannot be read ({exc}); it must be a CSV file 'idx,label' with one row per label") from None
    if not rows or rows[0] != ["idx", "label"]:
        raise TaskFolderError(f"{path}: the first line must be 'idx,label', found {','.join(rows[0]) if rows else 'an empty file'!r}")
    labels = [row[1] for row in rows[1:] if len(row) == 2]
    indices = [row[0] for row in rows[1:] if len(row) == 2]
    if len(labels) != len(rows) - 1 or not labels or indices != [str(i) for i in range(len(labels))]:
        raise TaskFolderError(f"{path}: rows must be 'index,label' with indices 0, 1, 2... and at least one label")
    return set(labels)


def _check_split(path: Path, embedding_type: str, labels: set[str]) -> None:
    split = _read_json(path)
    if not isinstance(split, dict):
        raise TaskFolderError(f"{path}: must map each audio file name to its labels, found {type(split).__name__}")
    for name, value in split.items():
        items = value if isinstance(value, list) else None
        if embedding_type == "event":
            ok = items is not None and all(isinstance(e, dict) and {"label", "start", "end"} <= set(e) for e in items)
            found = [e.get("label") for e in items if isinstance(e, dict)] if ok else []
        else:
            ok = items is not None
            found = items or []
        unknown = sorted({str(label) for label in found} - labels)
        if not ok or unknown:
            shape = '[{"label": ..., "start": ms, "end": ms}, ...]' if embedding_type == "event" else "[label, ...]"
            problem = f"labels {unknown} not in labelvocabulary.csv" if ok else f"expected {shape}, found {value!r}"
            raise TaskFolderError(f"{path}: {name!r}: {problem}")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskFolderError(f"{path}: missing; a HEAR task folder holds task_metadata.json, labelvocabulary.csv "
                              "and one <split>.json per split") from None
    except (OSError, ValueError) as exc:
        raise TaskFolderError(f"{path}: not valid JSON ({exc})") from None
