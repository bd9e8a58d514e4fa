"""BYOL-S with the ResNet-ish 34 encoder.

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("resnetish34")
