"""BYOL-S with the AudioNTT2020 encoder, d=512 (SERAB): its MIT weights ship with the package.

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("default512")
