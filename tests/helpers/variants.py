"""Variant lists for parametrising tests, derived from the configs so a new variant (or a new
encoder type) is covered without editing a test."""
from __future__ import annotations

from collections.abc import Callable, Hashable

from hear_byols.variants import VariantSpec, variant_names, variant_spec

#: Every variant, from the configs: tests parametrised over it cover a new variant on its own.
ALL_VARIANTS = tuple(variant_names())
#: Test checkpoints other than a variant's own config: ``name -> (variant, encoder params)``.
CHECKPOINT_PARAMS = {"byola_d512": ("byola", {"n_mels": 64, "d": 512}), "byola_d2048": ("byola", None)}


def encoder_type(spec: VariantSpec) -> str:
    """The architecture (fast paths and layer taps are chosen by it)."""
    return spec.encoder_type


def encoder_type_and_pooling(spec: VariantSpec) -> tuple[str, str]:
    """The encoder type and how its published (last) layer is pooled (a CvT is mean+max or mean)."""
    return spec.encoder_type, spec.layers()[-1].pooling


def one_variant_per(kind: Callable[[VariantSpec], Hashable]) -> tuple[str, ...]:
    """One variant for each value of ``kind(spec)``: the first by name with a published HEAR model,
    else the first by name, so the ones users reproduce stand for the others."""
    published_first = sorted(variant_names(), key=lambda name: (variant_spec(name).hear_model_id is None, name))
    chosen: dict[Hashable, str] = {}
    for name in published_first:
        chosen.setdefault(kind(variant_spec(name)), name)
    return tuple(chosen.values())
