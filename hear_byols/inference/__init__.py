"""Inference assembly: a variant's model built from its checkpoint, and running it (scene
embeddings, device and precision, chunked passes, why an output is not finite).

Above the variant registry, the weights, the log-mel path and the encoders; below the HEAR API.
Never imports training, the command line or evaluation (tests/test_layers_order.py).
"""
