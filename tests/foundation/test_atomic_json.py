"""hear_byols.storage.atomic.atomic_write_json, the one writer of whole JSON files: the bytes each of
its users wrote before it (embed's index, pretraining's run folder, evaluation's ledger)."""
from __future__ import annotations

import json
from pathlib import Path

from evaluation import ledger
from hear_byols.storage.atomic import atomic_write_json
from hear_byols.pretraining.run_files import json_bytes, save_json


def test_the_bytes_each_writer_had(tmp_path: Path) -> None:
    content = {"b": [1, "é"], "a": Path("x")}
    atomic_write_json(tmp_path / "index.json", {"b": 1, "a": "é"})
    assert (tmp_path / "index.json").read_bytes() == (json.dumps({"b": 1, "a": "é"}, indent=2) + "\n").encode()
    save_json(tmp_path / "run.json", content)
    expected = json.dumps(content, indent=2, sort_keys=True, default=str).encode() + b"\n"
    assert (tmp_path / "run.json").read_bytes() == json_bytes(content) == expected
    ledger.write_plan(tmp_path, "1/2", [("m", "t"), ("m", "u")], [("m", "u")])
    plan = {"shard": "1/2", "chains": [["m", "t"], ["m", "u"]], "mine": [["m", "u"]]}
    assert (tmp_path / ledger.PLAN).read_text() == json.dumps(plan, indent=1)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.json", "plan.json", "run.json"]  # no temporaries
