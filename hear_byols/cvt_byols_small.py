"""BYOL-S with SERAB's small CvT 64/128/256 encoder, mean-pooled to 256-d (pooling inferred).

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("cvt_byols_small")
