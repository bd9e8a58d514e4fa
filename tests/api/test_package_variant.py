""""``hear_byols`` means cvt", written once (``hear_byols.PACKAGE_VARIANT``) and read by the
package's own binding, the harness's weights and the published-score join."""
from __future__ import annotations

import importlib

import hear_byols
from evaluation.published import model_id
from evaluation.weights import variant_of
from hear_byols import PACKAGE_VARIANT
from hear_byols.variants import module_variant, variant_spec


def test_the_bare_module_is_the_package_variant() -> None:
    assert module_variant("hear_byols") == variant_of("hear_byols") == PACKAGE_VARIANT == "cvt"
    assert module_variant("hear_byols.default") == "default" and module_variant("hearbaseline.naive") is None
    assert model_id("hear_byols") == model_id("hear_byols-normalization=per_clip") == variant_spec(
        PACKAGE_VARIANT).hear_model_id
    assert hear_byols.load_model is importlib.import_module(f"hear_byols.{PACKAGE_VARIANT}").load_model
