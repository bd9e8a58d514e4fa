"""The published HEAR 2021 scores of the BYOL-S family and their join with ours.

``published_scores.csv`` (copied from the project's shared fixtures, sources kept per row) holds
several rows per (model, task, metric): the official HEAR leaderboard, superseded values of the
early results pages and the BYOL-S paper's re-runs. The reference is the official HEAR value
where there is one, else the paper's; superseded rows are never used.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from hear_byols.variants import module_variant, variant_names, variant_spec

PUBLISHED_CSV = Path(__file__).with_name("published_scores.csv")

def model_id(module: str) -> str | None:
    """Published model_id of a module (or of its heareval folder ``module-option=value``), from
    the variant's definition (``hear_model_id``); ``hear_byols`` itself is its ``PACKAGE_VARIANT``. byola has
    none: the published ``byola_retrained`` is a BYOL-A re-trained by the BYOL-S authors, not
    its official weights."""
    variant = module_variant(module.split("-", 1)[0])
    if variant not in variant_names():
        return None
    return variant_spec(variant).hear_model_id


def reference_scores(path: Path = PUBLISHED_CSV) -> pd.DataFrame:
    """One published row per (model_id, task, metric): official HEAR first, then the paper."""
    table = pd.read_csv(path)
    table = table[~table["notes"].fillna("").str.startswith("superseded")]
    official = table["source"].str.contains("hearbenchmark", regex=False)
    table = table.assign(_rank=(~official).astype(int)).sort_values("_rank", kind="stable")
    return table.drop_duplicates(["model_id", "hear_task", "metric"]).drop(columns="_rank")


def join_published(scores: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """``scores`` plus published_model, published, diff (ours - published) and published_source.

    A task matches a published row by its HEAR folder name (``tfds_crema_d-1.0.0-full``) or
    its short name (``crema_d``)."""
    published = reference_scores() if published is None else published
    by_key = {}
    for row in published.itertuples():
        for task in (row.hear_task, row.task):
            by_key.setdefault((row.model_id, task, row.metric), row)
    joined = []
    for row in scores.itertuples(index=False):
        match = by_key.get((model_id(row.module), row.task, row.metric))
        joined.append({
            "published_model": model_id(row.module),
            "published": float("nan") if match is None else float(match.score),
            "published_source": None if match is None else match.source,
        })
    out = pd.concat([scores.reset_index(drop=True), pd.DataFrame(joined)], axis=1)
    out.insert(out.columns.get_loc("published") + 1, "diff", out["score"] - out["published"])
    return out
