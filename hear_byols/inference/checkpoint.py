"""Read a checkpoint file, recognise which variant it holds, and build the model from it.

Official serab-byols files are plain state dicts. Training checkpoints wrap them
(``{"state_dict": ...}``, Lightning) and prefix the keys (``model.``, ``module.``,
``online_encoder.net.``...): we unwrap and strip those. A file of another variant is named as
such, instead of surfacing as dozens of missing keys.
"""
from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from hear_byols.errors import CheckpointError, WrongVariantError
from hear_byols.inference.model import ByolsModel
from hear_byols.logmel.normalization import parse_normalization
from hear_byols.variants import WeightFile, variant_names, variant_spec
from hear_byols.weights.hashing import git_blob_sha1_of, sha256_of
from hear_byols.weights.registry import registry_entries, registry_variants

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


def encoder_shapes(variant: str, params: dict[str, Any] | None = None) -> dict[str, torch.Size]:
    """Key -> shape of a variant's encoder, in state-dict order (``params``: the config's)."""
    return _encoder_shapes(variant, json.dumps(params, sort_keys=True))


@functools.cache
def _encoder_shapes(variant: str, params_json: str) -> dict[str, torch.Size]:
    """Cached by the parameters' JSON; built on the meta device (no memory, fast)."""
    encoder = variant_spec(variant).build_encoder(json.loads(params_json), meta=True)
    return {key: value.shape for key, value in encoder.state_dict().items()}


def variant_keys(variant: str) -> tuple[str, ...]:
    """State-dict keys of a variant's encoder, in order."""
    return tuple(encoder_shapes(variant))


def encoder_params(variant: str, state_dict: Mapping[str, Tensor]) -> dict[str, Any]:
    """The variant's encoder hyper-parameters; BYOL-A reads its width from the checkpoint."""
    spec = variant_spec(variant)
    params = dict(spec.encoder_params)
    if spec.infer_from_checkpoint:
        # BYOL-A ships d = 512, 1024 and 2048: the embedding size is the first fc layer's width
        params["d"] = int(state_dict["fc.0.weight"].shape[0])
    return params


def _fitting(state_dict: Mapping[str, Tensor], variant: str) -> dict[str, Tensor] | None:
    """The checkpoint's entries for ``variant``'s encoder when keys *and* shapes fit, else None."""
    found = strip_prefix(state_dict, list(variant_keys(variant)))
    if found is None:
        return None
    expected = encoder_shapes(variant, encoder_params(variant, found))
    return found if all(found[key].shape == shape for key, shape in expected.items()) else None


def identify_variants(state_dict: Mapping[str, Tensor]) -> list[str]:
    """Variants whose encoder the checkpoint fits (keys and shapes), fixed-width variants first:
    several share an architecture (AudioNTT2020 d=2048: default and byola; CvT 64/256/512: cvt,
    cvt_byols and cvt_byols_bs512, which pool differently but have the same weights' shapes)."""
    names = [name for name in variant_names() if _fitting(state_dict, name) is not None]
    return sorted(names, key=lambda name: variant_spec(name).infer_from_checkpoint)


def official_owner(path: str | Path) -> WeightFile | None:
    """The registry file that ``path`` is, by size and hash, or None (fine-tuned, unknown)."""
    size = Path(path).stat().st_size
    candidates = [wf for name in registry_variants() for wf in registry_entries(name) if wf.size in (None, size)]
    digests: dict[str, str] = {}
    for wf in candidates:
        kind = "sha256" if wf.sha256 else "git_blob_sha1"
        if kind not in digests:
            digests[kind] = sha256_of(path) if kind == "sha256" else git_blob_sha1_of(path)
        if digests[kind] == getattr(wf, kind):
            return wf
    return None


def encoder_state_dict(state_dict: Mapping[str, Tensor], variant: str, path: str | Path) -> dict[str, Tensor]:
    """The checkpoint's weights for ``variant``'s encoder, or a precise error naming the module
    that fits: by keys and shapes, and for an architecture several variants share, by the
    official file's hash (SERAB's d=512 BYOL-S file is not a BYOL-A file, though it fits one)."""
    fitting = identify_variants(state_dict)
    if variant in fitting:
        if len(fitting) > 1:
            owner = official_owner(path)
            if owner is not None and owner.variant != variant:
                raise _wrong_variant(path, [owner.variant], variant, f"it is the official {owner.filename}")
        return _fitting(state_dict, variant) or {}
    if fitting:
        owner = official_owner(path)
        if owner is not None and owner.variant in fitting:
            raise _wrong_variant(path, [owner.variant], variant, f"it is the official {owner.filename}")
        raise _wrong_variant(path, fitting, variant, "its tensor shapes are that architecture's")
    expected = list(variant_keys(variant))
    found = strip_prefix(state_dict, expected)
    if found is not None:
        shapes = encoder_shapes(variant, encoder_params(variant, found))
        wrong = [f"{key}: expected {list(shape)}, found {list(found[key].shape)}"
                 for key, shape in shapes.items() if found[key].shape != shape]
        raise CheckpointError(
            f"{path} has the keys of hear_byols.{variant} but {len(wrong)} tensors of other shapes "
            f"({'; '.join(wrong[:3])}): it was trained with other hyper-parameters than configs/{variant}.yaml, "
            "and no other variant fits it either"
        )
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in set(expected)]
    raise CheckpointError(
        f"{path} does not match hear_byols.{variant}: {len(missing)} missing keys (e.g. {missing[:3]}), "
        f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]}); it is not a BYOL-S/BYOL-A checkpoint "
        "this package knows"
    )


def _wrong_variant(path: str | Path, owners: list[str], variant: str, why: str) -> WrongVariantError:
    alternatives = "".join(f" (or hear_byols.{name}.load_model(path))" for name in owners[1:])
    return WrongVariantError(
        f"{path} holds weights of hear_byols.{owners[0]} ({variant_spec(owners[0]).title}), not of "
        f"hear_byols.{variant} ({variant_spec(variant).title}): {why}. "
        f"use hear_byols.{owners[0]}: hear_byols.{owners[0]}.load_model(path){alternatives}"
    )


def non_finite_entries(state_dict: Mapping[str, Tensor]) -> list[str]:
    """``"key (n NaN, m Inf)"`` for each floating-point entry holding NaN or Inf."""
    bad = []
    for key, value in state_dict.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            counts = ((int(value.isnan().sum()), "NaN"), (int(value.isinf().sum()), "Inf"))
            bad.append(f"{key} ({', '.join(f'{n} {kind}' for n, kind in counts if n)})")
    return bad


def describe_entries(entries: list[str], shown: int = 5) -> str:
    """The first ``shown`` entries, and how many more."""
    more = len(entries) - shown
    return "; ".join(entries[:shown]) + (f"; and {more} more" if more > 0 else "")


def require_finite_weights(state_dict: Mapping[str, Tensor], path: str | Path) -> None:
    """Refuse weights holding NaN or Inf, naming the tensors: such a model (a diverged training
    run) gives NaN for every clip, which would surface later as a misleading audio error."""
    bad = non_finite_entries(state_dict)
    if bad:
        raise CheckpointError(
            f"{path} has non-finite weights in {len(bad)} tensors: {describe_entries(bad)}. The training that "
            "wrote it diverged (a NaN loss): every embedding would be NaN. Use an earlier checkpoint of the run, "
            "or train again"
        )


def model_from_checkpoint(variant: str, path: str | Path, normalization: Any = None) -> ByolsModel:
    """Build ``variant``'s encoder, load ``path`` into it with ``strict=True`` and wrap it.

    ``normalization=None`` means the variant's default (``reference`` for BYOL-S).
    """
    spec = variant_spec(variant)
    asked = spec.default_normalization if normalization is None else normalization
    norm = parse_normalization(asked, spec.frontend, spec.module)
    state_dict = encoder_state_dict(read_checkpoint(path), variant, path)
    require_finite_weights(state_dict, path)
    encoder = spec.build_encoder(encoder_params(variant, state_dict))
    encoder.load_state_dict(state_dict, strict=True)
    return ByolsModel(spec, encoder, norm, weights=str(path))
