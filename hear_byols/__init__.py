"""BYOL-S / Hybrid BYOL-S speech representations with the HEAR 2021 API.

``hear_byols`` itself exposes the best variant (``PACKAGE_VARIANT``: ``cvt``, Hybrid BYOL-S); each
variant also has its own module: ``hear_byols.default``, ``.resnetish34``, ``.clstm``, ``.cvt``, ``.byola``.
The API is imported on first use, so that importing a lower layer (``hear_byols.audio``,
``hear_byols.pretraining.data``) does not load the HEAR API and the models.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from hear_byols.errors import HearByolsError

if TYPE_CHECKING:
    from hear_byols.api import get_scene_embeddings, get_timestamp_embeddings, list_layers, list_variants, load_model

__version__ = "0.1.0"
#: The variant the bare ``hear_byols`` module binds (``hear_byols.load_model``...), the one place
#: this is written: heareval and the harness name it by the module ``hear_byols`` alone
#: (``variants.module_variant``). Here, not in ``variants``, so that importing the package stays light.
PACKAGE_VARIANT = "cvt"

__all__ = [
    "load_model",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "list_variants",
    "list_layers",
    "HearByolsError",
    "__version__",
]

#: The public names imported on first use, and their modules.
_LAZY = {
    "load_model": f"hear_byols.{PACKAGE_VARIANT}",
    "get_scene_embeddings": f"hear_byols.{PACKAGE_VARIANT}",
    "get_timestamp_embeddings": f"hear_byols.{PACKAGE_VARIANT}",
    "list_variants": "hear_byols.api",
    "list_layers": "hear_byols.api",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'hear_byols' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
