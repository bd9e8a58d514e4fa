"""BYOL-A v1 AudioNTT2020 (d = 512, 1024 or 2048, read from the checkpoint).

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("byola")
