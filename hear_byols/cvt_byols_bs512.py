"""BYOL-S with the CvT 64/256/512 encoder, batch 512, mean-pooled to 512-d as SERAB served it.

HEAR 2021 API: ``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``.
"""
from hear_byols.api import variant_api

load_model, get_scene_embeddings, get_timestamp_embeddings = variant_api("cvt_byols_bs512")
