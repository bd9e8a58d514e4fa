"""Official weights: the registry of published files, verification, download and lookup.

``resolve_weights(variant)`` is what ``load_model()`` calls; the CLI uses the rest.
Environment: ``HEAR_BYOLS_WEIGHTS_DIR`` (searched first), ``HEAR_BYOLS_CACHE_DIR``
(downloads), ``HEAR_BYOLS_MIRROR`` (base URL tried first), ``HEAR_BYOLS_OFFLINE`` (never download).
"""

from hear_byols.weights.download import download_urls, download_weight_file
from hear_byols.weights.hashing import (
    find_mismatch,
    git_blob_sha1_of,
    sha256_of,
    verify_file,
)
from hear_byols.weights.locations import (
    cache_dir,
    candidate_paths,
    package_checkpoints_dir,
    resolve_weight_file,
    resolve_weights,
)
from hear_byols.weights.registry import (
    WeightFile,
    default_weight_file,
    find_weight_file,
    registry_entries,
    registry_variants,
    variant_note,
)

__all__ = [
    "WeightFile",
    "cache_dir",
    "candidate_paths",
    "default_weight_file",
    "download_urls",
    "download_weight_file",
    "find_mismatch",
    "find_weight_file",
    "git_blob_sha1_of",
    "package_checkpoints_dir",
    "registry_entries",
    "registry_variants",
    "resolve_weight_file",
    "resolve_weights",
    "sha256_of",
    "variant_note",
    "verify_file",
]
