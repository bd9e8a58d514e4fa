"""``info``, ``download`` and ``verify``: the official weights seen from the command line
(and ``info --layers``: a variant's selectable layers).

They only call the public functions of ``hear_byols.weights``, so what they report and fetch
is exactly what ``load_model()`` would find and fetch.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

import hear_byols
from hear_byols.api import list_layers, list_variants
from hear_byols.errors import HearByolsError
from hear_byols.variants import variant_spec
from hear_byols.weights import (
    WeightFile,
    cache_dir,
    candidate_paths,
    find_mismatch,
    registry_entries,
    registry_variants,
    resolve_weights,
    variant_note,
    verify_file,
)
from hear_byols.weights.env import MIRROR_ENV, WEIGHTS_DIR_ENV, env_value, offline_mode


def run_info() -> int:
    """Print versions, devices, weight locations and every variant's weights status."""
    mirror = env_value(MIRROR_ENV)
    print(f"hear_byols {hear_byols.__version__}, torch {torch.__version__}, devices: {_devices()}")
    print(f"weights cache: {cache_dir()}")
    print(f"${WEIGHTS_DIR_ENV}: {env_value(WEIGHTS_DIR_ENV) or '(not set)'}")
    print(f"downloads: {'off ($HEAR_BYOLS_OFFLINE)' if offline_mode() else 'on'}" + (f", mirror {mirror}" if mirror else ""))
    print()
    print(f"{'variant':<12} {'dim':>5} {'params':>7}  title")
    for info in list_variants():
        print(f"{info.name:<12} {info.embedding_size:>5} {info.param_count / 1e6:>6.1f}M  {info.title}")
        files = registry_entries(info.name)
        if not files:
            print(f"{'':<12} weights: none published ({info.note})")
            continue
        print(f"{'':<12} weights: {files[0].filename} (licence: {files[0].licence})")
        print(f"{'':<12} {_weights_status(files[0])}")
    return 0


def run_info_layers(variant: str) -> int:
    """Print ``variant``'s layers (``load_model(layer=...)``), their sizes and pooling."""
    layers = list_layers(variant)
    print(f"{'layer':<8} {'dim':>5}  pooling over time (of the clip for scenes, of each frame for timestamps)")
    for layer in layers:
        final = "  (default: the published embedding)" if layer is layers[-1] else ""
        print(f"{layer.name:<8} {layer.size:>5}  {layer.pooling}{final}")
    if variant_spec(variant).infer_from_checkpoint:
        print(f"sizes that depend on the checkpoint follow it (listed for configs/{variant}.yaml's "
              f"{variant_spec(variant).encoder_params})")
    return 0


def run_download(variants: list[str], every: bool) -> int:
    """Fetch and fully verify each variant's default weights, as ``load_model()`` would find them."""
    names = registry_variants() if every else variants
    files = {name: registry_entries(name) for name in names}  # unknown names fail before any download
    failed = 0
    for name in names:
        if not files[name]:
            print(f"{name}: no official weights to download ({variant_note(name)})", file=sys.stderr)
            failed += not every
            continue
        try:
            path = resolve_weights(name)  # load_model's own lookup and download
            verify_file(path, files[name][0])  # local copies were only size-checked: hash them
            print(f"{name}: verified {path}")
        except HearByolsError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def run_verify() -> int:
    """Re-hash every official weight file found in any search location; 1 if any differs."""
    checked = mismatched = 0
    for variant in registry_variants():
        for wf in registry_entries(variant):
            for label, path in candidate_paths(variant, wf.filename):
                if not path.is_file():
                    continue
                checked += 1
                mismatch = find_mismatch(path, wf)
                if mismatch is None:
                    print(f"ok        {path} ({variant}, {label})")
                else:
                    mismatched += 1
                    print(f"MISMATCH  {path} ({variant}, {label}): {mismatch}; delete it and run "
                          f"`hear-byols download {variant}`")
    for path in _unknown_cache_files():
        print(f"unknown   {path}: not an official weight file, not checked")
    if not checked:
        print(f"no official weight files found (cache: {cache_dir()}); fetch them with `hear-byols download --all`")
    print(f"{checked} checked, {mismatched} mismatched")
    return 1 if mismatched else 0


def _weights_status(wf: WeightFile) -> str:
    """Where ``load_model()`` would read ``wf`` from, and whether that file is the official one."""
    for label, path in candidate_paths(wf.variant, wf.filename):
        if path.is_file():
            mismatch = find_mismatch(path, wf)
            verdict = "verified" if mismatch is None else f"MISMATCH ({mismatch})"
            return f"present, {verdict}: {path} ({label})"
    searched = ", ".join(str(path) for _, path in candidate_paths(wf.variant, wf.filename))
    return f"not present (searched {searched}); `hear-byols download {wf.variant}` fetches it"


def _devices() -> str:
    if not torch.cuda.is_available():
        return "cpu (CUDA not available)"
    gpus = [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    return ", ".join(["cpu", *gpus])


def _unknown_cache_files() -> list[Path]:
    official = {wf.filename for v in registry_variants() for wf in registry_entries(v)}
    directory = cache_dir()
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name not in official and p.suffix != ".lock")
