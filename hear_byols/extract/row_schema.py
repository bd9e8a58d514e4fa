"""The shape of one file's row, checked wherever rows are read: ``index.json``, index parts and
the journal.

A row of the wrong shape (``"outputs": "a.npy"``, ``"status": "done"``) that got merged would
make an index that every later command refuses; so each row is checked field by field when it
is read, and refused with what is wrong, before anything is written or deleted.
"""
from __future__ import annotations

from typing import Any

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"
#: Optional fields (null allowed) and the JSON types they hold; ``bool`` is never taken for a number.
_OPTIONAL: dict[str, tuple[type, ...]] = {
    "reason": (str,), "duration_s": (int, float), "sample_rate": (int,), "channels": (int,),
    "resampled": (bool,), "downmixed": (bool,), "input_size": (int,), "input_mtime_ns": (int,), "input_sha256": (str,),
}


def row_problem(row: Any) -> str | None:
    """What is wrong with ``row`` (one line), or None when every field has its type."""
    if not isinstance(row, dict):
        return "a row must be an object"
    if not isinstance(row.get("input"), str):
        return '"input" must be the input path (a string)'
    outputs = row.get("outputs")
    if not isinstance(outputs, list) or not outputs or not all(isinstance(name, str) for name in outputs):
        return '"outputs" must be a non-empty list of output names'
    if row.get("status") not in (WRITTEN, SKIPPED, FAILED):
        return f'"status" must be "{WRITTEN}", "{SKIPPED}" or "{FAILED}", not {row.get("status")!r}'
    for key, kinds in _OPTIONAL.items():
        value = row.get(key)
        if value is not None and (isinstance(value, bool) != (bool in kinds) or not isinstance(value, kinds)):
            return f'"{key}" must be {" or ".join(kind.__name__ for kind in kinds)} or null, not {value!r}'
    hashes = row.get("sha256")
    if hashes is not None and not (
        isinstance(hashes, dict) and sorted(hashes) == sorted(outputs) and all(isinstance(h, str) for h in hashes.values())
    ):
        return '"sha256" must map each of "outputs" to its hex digest, or be null'
    return None
