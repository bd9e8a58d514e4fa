"""``hear-byols index merge OUT`` and ``hear-byols verify-embeddings OUT``.

``merge`` is what the last shard to finish does on its own; run it by hand after a shard died
for good, or to see the index while no shard is running. ``verify-embeddings`` re-hashes every
output the index records as written (rows from index.json, unmerged parts and killed runs'
journals alike), so a file changed, truncated or deleted since it was written is named.
"""
from __future__ import annotations

import sys
from pathlib import Path

from hear_byols.cli import printable
from hear_byols.cli.index import INDEX_NAME, WRITTEN, combined_index, merge_parts
from hear_byols.cli.journal import read_journal
from hear_byols.cli.outdir import index_section, live_shards
from hear_byols.errors import UsageError
from hear_byols.weights import sha256_of


def merge_index_of(out_dir: Path) -> int:
    """Merge ``out_dir``'s parts and journals into its index.json; UsageError while shards run."""
    _require_out_dir(out_dir)
    with index_section(out_dir):
        running = live_shards(out_dir)
        if running:
            raise UsageError(
                f"shard {running[0].label} is still writing into {out_dir}; the last shard to finish merges the "
                "index itself, or merge once none is running"
            )
        path = merge_parts(out_dir, read_journal(out_dir))
    print(printable(f"hear-byols index: merged {path}"), file=sys.stderr)
    return 0


def verify_embeddings(out_dir: Path) -> int:
    """0 when every recorded output matches its sha256; 1 naming each missing or changed one."""
    _require_out_dir(out_dir)
    index, _ = combined_index(out_dir, read_journal(out_dir))
    if not index["files"]:
        raise UsageError(f"{out_dir} records no outputs ({INDEX_NAME}, index parts, journal): not an embed --out directory")
    checked, unhashed, problems = 0, 0, []
    for row in index["files"]:
        if row["status"] != WRITTEN:
            continue
        hashes = row.get("sha256")
        if not hashes:
            unhashed += 1  # written by a version that did not record hashes
            continue
        for name, expected in hashes.items():
            path = out_dir / name
            checked += 1
            if not path.is_file():
                problems.append(f"  {name}: missing (from {row['input']})")
            elif sha256_of(path) != expected:
                problems.append(f"  {name}: changed since it was written (from {row['input']}; sha256 differs)")
    older = f"; {unhashed} file(s) written before hashes were recorded, not checked" if unhashed else ""
    print(f"hear-byols verify-embeddings: {checked - len(problems)} of {checked} outputs match{older}", file=sys.stderr)
    if problems:
        print(f"mismatching or missing ({len(problems)}); recompute them with embed --overwrite:", file=sys.stderr)
        print(printable("\n".join(problems)), file=sys.stderr)
        return 1
    return 0


def _require_out_dir(out_dir: Path) -> None:
    if not out_dir.is_dir():
        raise UsageError(f"{out_dir} is not a directory; name the --out directory of hear-byols embed")
