"""Every generated table of the documentation, in one place: ``make docs-tables`` rewrites them.

``python -m evaluation.docs_tables`` writes each table into its file; ``--check`` writes nothing
and exits 1 naming the tables that differ from their sources (the tests do the same check).
A new generated table is one entry in ``TABLES`` plus its markers in the Markdown file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from evaluation.layers_table import layers_table
from evaluation.marked_blocks import replace_block

REPO = Path(__file__).resolve().parents[1]


class Table(NamedTuple):
    """A generated block: the file holding it (relative to the repository), its marker name, its generator."""

    path: str
    name: str
    generate: Callable[[], str]


def _variants_table() -> str:
    # imported when called: it needs pandas (the published scores), the layers table does not
    from evaluation.variants_table import variants_table

    return variants_table()


TABLES = (
    Table("README.md", "variants-table", _variants_table),
    Table("docs/LAYERS.md", "layers-table", layers_table),
)


def updated_text(table: Table, repo: Path = REPO) -> tuple[str, str]:
    """``(committed text, text with the table regenerated)`` of the table's file."""
    text = (repo / table.path).read_text(encoding="utf-8")
    return text, replace_block(text, table.name, table.generate())


def stale_tables(tables: Sequence[Table] = TABLES, repo: Path = REPO) -> list[str]:
    """``file: name`` of every table whose committed copy differs from what its source gives."""
    stale = []
    for table in tables:
        text, updated = updated_text(table, repo)
        if updated != text:
            stale.append(f"{table.path}: {table.name}")
    return stale


def write_tables(tables: Sequence[Table] = TABLES, repo: Path = REPO) -> list[str]:
    """Rewrite every stale table; ``file: name`` of those that changed."""
    changed = []
    for table in tables:
        text, updated = updated_text(table, repo)
        if updated != text:
            (repo / table.path).write_text(updated, encoding="utf-8")
            changed.append(f"{table.path}: {table.name}")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evaluation.docs_tables", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a table is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_tables()
        print("\n".join(f"stale: {name} (run `make docs-tables`)" for name in stale) or "every table is up to date")
        return 1 if stale else 0
    changed = write_tables()
    print("\n".join(f"updated: {name}" for name in changed) or "every table was already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
