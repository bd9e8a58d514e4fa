"""The registry of official weight files: a view over the ``weights:`` sections of the
variant definitions (``configs/<variant>.yaml``), so file names, URLs, sizes and hashes are
written in one place only."""

from __future__ import annotations

from dataclasses import dataclass

from hear_byols.errors import CheckpointError, InvalidOptionError
from hear_byols.variants import WeightFile, variant_names, variant_spec

__all__ = ["WeightFile", "default_weight_file", "find_weight_file", "registry_entries", "registry_variants", "variant_note"]


@dataclass(frozen=True)
class VariantWeights:
    """The official files of one variant (default first) and its remark, if any."""

    files: tuple[WeightFile, ...]
    note: str | None


def registry_variants() -> list[str]:
    """Variant names the registry knows (every variant has an entry, maybe without files)."""
    return list(_registry())


def registry_entries(variant: str) -> list[WeightFile]:
    """The official files of ``variant``, default first (empty when none were published)."""
    return list(_entry(variant).files)


def default_weight_file(variant: str) -> WeightFile | None:
    """The file ``load_model()`` uses for ``variant`` without a path, or None if none exists."""
    files = _entry(variant).files
    return files[0] if files else None


def find_weight_file(filename: str) -> WeightFile | None:
    """The registry file called ``filename`` (any variant), or None."""
    for entry in _registry().values():
        for wf in entry.files:
            if wf.filename == filename:
                return wf
    return None


def variant_note(variant: str) -> str | None:
    """The registry's remark about ``variant`` (e.g. why it has no weights), if any."""
    return _entry(variant).note


def _entry(variant: str) -> VariantWeights:
    registry = _registry()
    if variant not in registry:
        raise InvalidOptionError(f"unknown variant {variant!r}; known variants: {', '.join(registry)}")
    return registry[variant]


def _registry() -> dict[str, VariantWeights]:
    specs = [variant_spec(name) for name in variant_names()]
    registry = {spec.name: VariantWeights(spec.weight_files, spec.weights_note) for spec in specs}
    check_unique_filenames(registry)
    return registry


def check_unique_filenames(registry: dict[str, VariantWeights]) -> None:
    """A file name belongs to one variant: it is how a cached or mirrored file is found."""
    owner: dict[str, str] = {}
    for name, entry in registry.items():
        for wf in entry.files:
            if wf.filename in owner:
                raise CheckpointError(
                    f"invalid variant definitions: {wf.filename!r} is listed by both {owner[wf.filename]} "
                    f"and {name} (fix configs/{name}.yaml)"
                )
            owner[wf.filename] = name
