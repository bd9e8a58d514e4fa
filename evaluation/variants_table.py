"""The README's variant table, generated from the variant definitions and the published scores.

``python -m evaluation variants-table`` prints it; ``make docs-tables`` (evaluation/docs_tables.py)
writes it into README.md with the other generated tables. A test compares the README with this
output, so the table cannot drift from ``configs/``.
"""
from __future__ import annotations

from pathlib import Path

from hear_byols.api import VariantInfo, list_variants
from hear_byols.variants import WeightFile, variant_spec
from hear_byols.weights import package_checkpoints_dir

from evaluation.marked_blocks import replace_block
from evaluation.published import reference_scores

#: the marker name of the table's block in README.md
BLOCK = "variants-table"
#: The two headline speech tasks of the BYOL-S papers.
HEADLINE_TASKS = ("speech_commands-v0.0.2-5h", "tfds_crema_d-1.0.0-full")


def variants_table() -> str:
    """The Markdown table, one row per variant, in ``list_variants()`` order."""
    scores = _headline_scores()
    lines = [
        "| module | title | embedding | params | default weights file | hash | licence | HEAR score (Speech Commands 5h / CREMA-D, top-1) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for info in list_variants():
        spec = variant_spec(info.name)
        files = spec.weight_files
        lines.append(
            f"| `{info.module}` | {info.title} | {_embedding(info)} | {info.param_count:,} | {_weights(files)} "
            f"| {_hash(files[0]) if files else '—'} | {_licence(files)} | {scores.get(spec.hear_model_id or '', 'not published')} |"
        )
    return "\n".join(lines)


def write_into(readme: Path) -> bool:
    """Replace the table block of ``readme``; True when the file changed."""
    text = readme.read_text(encoding="utf-8")
    updated = replace_block(text, BLOCK, variants_table())
    if updated != text:
        readme.write_text(updated, encoding="utf-8")
    return updated != text


def _embedding(info: VariantInfo) -> str:
    return "d (from the file)" if variant_spec(info.name).infer_from_checkpoint else str(info.embedding_size)


def _weights(files: tuple[WeightFile, ...]) -> str:
    if not files:
        return "none published: pass your own file"
    shipped = (package_checkpoints_dir() / files[0].filename).is_file()
    alternatives = f" (+{len(files) - 1} alternative{'s' if len(files) > 2 else ''})" if len(files) > 1 else ""
    return f"`{files[0].filename}`{alternatives}" + (" **ships with the package**" if shipped else "")


def _hash(wf: WeightFile) -> str:
    if wf.sha256:
        return f"sha256 `{wf.sha256[:8]}…{wf.sha256[-6:]}`"
    return f"git blob `{wf.git_blob_sha1[:8]}…{wf.git_blob_sha1[-6:]}`" if wf.git_blob_sha1 else "—"


def _licence(files: tuple[WeightFile, ...]) -> str:
    return f"[{files[0].licence}]({files[0].licence_source})" if files else "—"


def _headline_scores() -> dict[str, str]:
    """``model_id -> "0.914 / 0.657 (HEAR 2021)"`` for the headline tasks."""
    table = reference_scores()
    table = table[table["hear_task"].isin(HEADLINE_TASKS) & (table["is_primary_metric"] == "yes")]
    out = {}
    for model, rows in table.groupby("model_id"):
        by_task = dict(zip(rows["hear_task"], rows["score"]))
        if all(task in by_task for task in HEADLINE_TASKS):
            official = rows["source"].str.contains("hearbenchmark", regex=False).all()
            source = "HEAR 2021 leaderboard" if official else "BYOL-S paper"
            out[str(model)] = " / ".join(f"{by_task[task]:.3f}" for task in HEADLINE_TASKS) + f" ({source})"
    return out
