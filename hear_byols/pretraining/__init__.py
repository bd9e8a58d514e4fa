"""Pretraining of BYOL-S and Hybrid BYOL-S (docs/PRETRAINING.md).

Sits beside the HEAR API layer and reuses the frontend, the encoders and the variant
definitions; the inference modules never import it. Entry points: ``hear-byols pretrain`` and
``torchrun -m hear_byols.pretraining`` (same options, ``options.py``).
"""
