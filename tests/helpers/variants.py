"""Variant lists for parametrising tests, derived from the configs so a new variant is covered
without editing a test."""
from __future__ import annotations

from hear_byols.variants import variant_names

#: Every variant, from the configs: tests parametrised over it cover a new variant on its own.
ALL_VARIANTS = tuple(variant_names())
#: Test checkpoints other than a variant's own config: ``name -> (variant, encoder params)``.
CHECKPOINT_PARAMS = {"byola_d512": ("byola", {"n_mels": 64, "d": 512}), "byola_d2048": ("byola", None)}
