"""BYOL-S with the CNN + BiLSTM encoder (no official weights: pass a checkpoint path).

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("clstm")
