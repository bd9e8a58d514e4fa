"""BYOL-S / Hybrid BYOL-S speech representations with the HEAR 2021 API.

``hear_byols`` itself exposes the best variant (``variants.PACKAGE_VARIANT``: ``cvt``, Hybrid
BYOL-S); each variant also has its own module: ``hear_byols.default``, ``.resnetish34``,
``.clstm``, ``.cvt``, ``.byola``.
"""
from hear_byols.api import list_layers, list_variants, variant_api
from hear_byols.errors import HearByolsError
from hear_byols.variants import PACKAGE_VARIANT

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api(PACKAGE_VARIANT)

__version__ = "0.1.0"

__all__ = [
    "load_model",
    "get_scene_embeddings",
    "get_timestamp_embeddings",
    "list_variants",
    "list_layers",
    "HearByolsError",
    "__version__",
]
