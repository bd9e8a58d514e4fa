"""``--models`` entries: a variant, a variant's intermediate layer (``default512:conv3``), or an
openSMILE baseline (``egemaps``, ``compare``).

Every entry is checked against the variant registry and the layers the encoder exposes before any
file is read, so a typo fails in a second, not after an hour of embedding.
"""
from __future__ import annotations

from dataclasses import dataclass

from hear_byols.api import list_layers
from hear_byols.errors import InvalidOptionError
from hear_byols.variants import variant_names

#: Baseline name -> (openSMILE feature set, number of functionals).
BASELINES: dict[str, tuple[str, int]] = {"egemaps": ("eGeMAPSv02", 88), "compare": ("ComParE_2016", 6373)}


@dataclass(frozen=True)
class ModelSpec:
    """One feature extractor of a run; ``text`` is how it is named in every output."""

    text: str
    variant: str | None = None
    layer: str | None = None
    baseline: str | None = None

    @property
    def is_baseline(self) -> bool:
        return self.baseline is not None


def parse_model(text: str) -> ModelSpec:
    """``VARIANT``, ``VARIANT:LAYER``, ``egemaps`` or ``compare``; InvalidOptionError otherwise."""
    name = text.strip()
    if name in BASELINES:
        return ModelSpec(name, baseline=name)
    variant, _, layer = name.partition(":")
    if variant not in variant_names():
        raise InvalidOptionError(
            f"--models {text!r}: unknown model; use a variant ({', '.join(variant_names())}), VARIANT:LAYER "
            f"(hear-byols info --layers VARIANT lists them) or a baseline ({', '.join(BASELINES)})"
        )
    if not layer:
        return ModelSpec(name, variant=variant)
    layers = [entry.name for entry in list_layers(variant)]
    if layer not in layers:
        raise InvalidOptionError(f"--models {text!r}: {variant} has no layer {layer!r}; its layers are {', '.join(layers)}")
    return ModelSpec(name, variant=variant, layer=layer)


def parse_models(texts: list[str]) -> list[ModelSpec]:
    """Every entry parsed, each once (a repeated entry is an error: it would double its rows)."""
    specs = [parse_model(text) for text in texts]
    if not specs:
        raise InvalidOptionError("--models: name at least one model (e.g. default512 egemaps)")
    seen = [spec.text for spec in specs]
    repeated = sorted({name for name in seen if seen.count(name) > 1})
    if repeated:
        raise InvalidOptionError(f"--models names {', '.join(repeated)} more than once; name each model once")
    return specs
