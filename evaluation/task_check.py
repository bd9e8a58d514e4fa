"""Check a HEAR task folder before heareval reads it.

heareval asserts or raises deep inside its runners (after minutes of embedding) when
``task_metadata.json``, ``labelvocabulary.csv`` or a split file is malformed, or when the
``16000/<split>/`` audio folder or a file a split names is missing, and the user sees its
traceback in a log. The checks here cover what its runners read, and each message names the
file, the problem and what a valid folder holds.
"""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from hear_byols.errors import HearByolsError

SPLIT_MODES = ("trainvaltest", "new_split_kfold", "presplit_kfold")
TRAINVALTEST = ["train", "valid", "test"]
#: The sample rate of every hear_byols variant: heareval reads their audio from ``<task>/16000/``.
AUDIO_RATE = 16000
_METADATA_TYPES: dict[str, tuple[type, ...]] = {
    "task_name": (str,), "embedding_type": (str,), "prediction_type": (str,), "split_mode": (str,),
    "splits": (list,), "evaluation": (list,), "sample_duration": (int, float, type(None)),
}
_CHOICES = {"embedding_type": ("scene", "event"), "prediction_type": ("multiclass", "multilabel"), "split_mode": SPLIT_MODES}


class TaskFolderError(HearByolsError, ValueError):
    """A task folder that heareval would fail on."""


def check_task_folder(folder: Path) -> None:
    """Raise TaskFolderError naming the first problem of ``folder``."""
    if not folder.is_dir():
        raise TaskFolderError(f"{folder}: no such task folder; --tasks names folders directly under --tasks-dir")
    metadata = _check_metadata(folder / "task_metadata.json")
    labels = _check_vocabulary(folder / "labelvocabulary.csv")
    splits = {split: folder / f"{split}.json" for split in metadata["splits"]}
    names = {split: _check_split(path, metadata["embedding_type"], labels) for split, path in splits.items()}
    audio = _check_audio_root(folder)
    for split, files in names.items():
        _check_audio(splits[split], audio / split, files)


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


def _check_split(path: Path, embedding_type: str, labels: set[str]) -> list[str]:
    """The audio file names of a valid split file."""
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
    return list(split)


def _check_audio_root(folder: Path) -> Path:
    """``<task>/16000/``: heareval reads a model's audio from ``<task>/<model.sample_rate>/<split>/``."""
    audio = folder / str(AUDIO_RATE)
    if not audio.is_dir():
        rates = sorted(path.name + "/" for path in folder.iterdir() if path.is_dir() and path.name.isdigit())
        found = f"found {', '.join(rates)}" if rates else "found no audio folder"
        raise TaskFolderError(
            f"{audio}: missing ({found}); hear_byols models take {AUDIO_RATE} Hz audio, which heareval reads from "
            f"<task>/{AUDIO_RATE}/<split>/: resample the task to {AUDIO_RATE} Hz (e.g. with hear-preprocess)"
        )
    return audio


def _check_audio(split_file: Path, audio_dir: Path, names: list[str]) -> None:
    """Every file ``split_file`` names is in ``audio_dir`` (one directory listing, not a stat per file)."""
    if not audio_dir.is_dir():
        raise TaskFolderError(f"{audio_dir}: missing; it holds the audio files that {split_file} names")
    present = set(os.listdir(audio_dir))
    missing = [name for name in names if name not in present and not (audio_dir / name).is_file()]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise TaskFolderError(
            f"{split_file}: {len(missing)} audio file(s) missing from {audio_dir}: {shown}; restore them, or remove "
            "their entries from the split file"
        )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TaskFolderError(f"{path}: missing; a HEAR task folder holds task_metadata.json, labelvocabulary.csv "
                              "and one <split>.json per split") from None
    except (OSError, ValueError) as exc:
        raise TaskFolderError(f"{path}: not valid JSON ({exc})") from None
