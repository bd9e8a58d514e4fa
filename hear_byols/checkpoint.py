"""Read a checkpoint file into an encoder state dict, and recognise which variant it holds.

Official serab-byols files are plain state dicts. Training checkpoints wrap them
(``{"state_dict": ...}``, Lightning) and prefix the keys (``model.``, ``module.``,
``online_encoder.net.``...): we unwrap and strip those. A file of another variant is named as
such, instead of surfacing as dozens of missing keys.
"""
from __future__ import annotations

import functools
import pickle
from pathlib import Path
from typing import Mapping

import torch
from torch import Tensor

from hear_byols.encoders import build_encoder
from hear_byols.errors import CheckpointError, WrongVariantError
from hear_byols.variants import variant_names, variant_spec

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")


def read_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """Load ``path`` safely (``weights_only=True``) and return its tensor mapping, unwrapped."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}; check the path passed to load_model()")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{path} holds Python objects that safe loading (weights_only=True) refuses ({exc}). "
            "If you trust the file, load it with torch.load(..., weights_only=False) and save "
            "model.state_dict() alone, then pass that file"
        ) from None
    except Exception as exc:  # any parse failure of torch's loaders means an unreadable file
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (corrupt or truncated?): {exc}. "
            "Delete it and download it again (hear-byols download VARIANT), or check where it came from"
        ) from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise CheckpointError(
            f"{path} does not contain a state dict (found {type(obj).__name__}); "
            "save weights with torch.save(model.state_dict(), path)"
        )
    non_tensors = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if non_tensors:
        raise CheckpointError(f"{path} is not a state dict: entries {non_tensors[:3]} are not tensors")
    return dict(obj)


def strip_prefix(state_dict: Mapping[str, Tensor], expected_keys: list[str]) -> dict[str, Tensor] | None:
    """The entries under the prefix whose keys cover ``expected_keys``, or None.

    Preference: no prefix, then an ``online`` (BYOL online network) prefix, then the shortest.
    """
    anchor = expected_keys[0]
    prefixes = {
        key[: -len(anchor)]
        for key in state_dict
        if key.endswith(anchor) and (key == anchor or key[-len(anchor) - 1] == ".")
    }
    expected = set(expected_keys)
    for prefix in sorted(prefixes, key=lambda p: (p != "", "online" not in p, len(p))):
        sub = {key[len(prefix) :]: value for key, value in state_dict.items() if key.startswith(prefix)}
        if expected <= sub.keys():
            return {key: sub[key] for key in expected_keys}
    return None


@functools.cache
def variant_keys(variant: str) -> tuple[str, ...]:
    """State-dict keys of a variant's encoder (built on the meta device: no memory, fast)."""
    spec = variant_spec(variant)
    with torch.device("meta"):
        encoder = build_encoder(spec.encoder_type, spec.encoder_params)
    return tuple(encoder.state_dict().keys())


def identify_variants(state_dict: Mapping[str, Tensor]) -> list[str]:
    """Variants whose encoder keys the checkpoint holds (several share AudioNTT2020's keys)."""
    return [name for name in variant_names() if strip_prefix(state_dict, list(variant_keys(name))) is not None]


def encoder_state_dict(state_dict: Mapping[str, Tensor], variant: str, path: str | Path) -> dict[str, Tensor]:
    """The checkpoint's weights for ``variant``'s encoder, or a precise error."""
    expected = list(variant_keys(variant))
    found = strip_prefix(state_dict, expected)
    if found is not None:
        return found
    others = [name for name in identify_variants(state_dict) if name != variant]
    if others:
        modules = " or ".join(f"hear_byols.{name}" for name in others)
        raise WrongVariantError(
            f"{path} holds weights of {modules} ({variant_spec(others[0]).title}), not of hear_byols.{variant} "
            f"({variant_spec(variant).title}): load it with {modules}.load_model(path)"
        )
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in set(expected)]
    raise CheckpointError(
        f"{path} does not match hear_byols.{variant}: {len(missing)} missing keys (e.g. {missing[:3]}), "
        f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]}); it is not a BYOL-S/BYOL-A checkpoint "
        "this package knows"
    )
