"""Every generated table of README.md and docs/ is registered in evaluation/docs_tables.py, is up to
date with its source, and a stale copy is caught (and repaired by ``make docs-tables``)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from evaluation.docs_tables import TABLES, Table, stale_tables, write_tables
from evaluation.layers_table import layers_table
from evaluation.marked_blocks import begin_marker, end_marker

REPO = Path(__file__).resolve().parents[2]


def test_every_generated_block_in_the_docs_is_registered():
    """A block with generated-table markers that ``make docs-tables`` does not know would drift unseen."""
    found = set()
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for name in re.findall(r"^<!-- ([\w-]+):begin\b", path.read_text(encoding="utf-8"), re.M):
            found.add((str(path.relative_to(REPO)), name))
    assert found == {(table.path, table.name) for table in TABLES}


def test_every_table_is_up_to_date():
    pytest.importorskip("pandas")  # the variants table reads the published scores
    assert stale_tables() == [], "run `make docs-tables` and commit the files"


def test_a_stale_table_is_named_and_rewritten(tmp_path):
    table = Table("docs/LAYERS.md", "layers-table", layers_table)
    (tmp_path / "docs").mkdir()
    text = f"# Layers\n\nprose\n\n{begin_marker(table.name)}\n{layers_table()}\n{end_marker(table.name)}\n\nmore prose\n"
    (tmp_path / table.path).write_text(text, encoding="utf-8")
    assert stale_tables([table], tmp_path) == []
    row = next(line for line in text.splitlines() if line.startswith("| `cvt` |"))
    (tmp_path / table.path).write_text(text.replace(row, row.replace("(2048)", "(1024)", 1)), encoding="utf-8")
    assert stale_tables([table], tmp_path) == ["docs/LAYERS.md: layers-table"]
    assert write_tables([table], tmp_path) == ["docs/LAYERS.md: layers-table"]
    assert (tmp_path / table.path).read_text(encoding="utf-8") == text
    assert stale_tables([table], tmp_path) == []
