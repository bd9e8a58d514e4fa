"""The layer table of the documentation, generated from the encoders' own layer lists.

One row per variant: its selectable layers, input side first, with their embedding sizes (``d``
where the size follows the checkpoint's width), the default in bold, and how each is pooled
over time. ``make docs-tables`` writes it; a test fails when the committed table drifts.
"""
from __future__ import annotations

from hear_byols.encoders.base import LAST_STEP, MEAN, MEAN_MAX
from hear_byols.variants import VariantSpec, variant_names, variant_spec

POOLING_WORDS = {MEAN_MAX: "mean + max", MEAN: "mean over mel and time", LAST_STEP: "last time step"}


def layers_table() -> str:
    """The Markdown table, one row per variant, in ``variant_names()`` order."""
    rows = [
        "| variant | layers, input side first: name (embedding size); **the default** | pooling over time |",
        "|---|---|---|",
    ]
    for variant in variant_names():
        spec = variant_spec(variant)
        rows.append(f"| `{variant}` | {_layer_names(spec)} | {_pooling(spec)} |")
    return "\n".join(rows)


def _layer_names(spec: VariantSpec) -> str:
    """``conv1`` (2048), ..., **``fc2``** (d): a size that changes with the checkpoint's width is ``d``."""
    layers = spec.layers()
    other_width = spec.layers({**spec.encoder_params, "d": 512}) if spec.infer_from_checkpoint else layers
    sizes = [str(a.size) if a.size == b.size else "d" for a, b in zip(layers, other_width)]
    names = [f"`{layer.name}` ({size})" for layer, size in zip(layers, sizes)]
    names[-1] = f"**`{layers[-1].name}`** ({sizes[-1]})"
    return ", ".join(names)


def _pooling(spec: VariantSpec) -> str:
    """One phrase when every layer pools alike, else ``a, b: words; c: words``."""
    groups: dict[str, list[str]] = {}
    for layer in spec.layers():
        groups.setdefault(POOLING_WORDS[layer.pooling], []).append(f"`{layer.name}`")
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(members)}: {words}" for words, members in groups.items())
