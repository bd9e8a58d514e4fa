"""The log-mel signal path that inference and pretraining share: the torch-only frontend
(numerically the reference's) and its normalisation policies. Imports nothing above errors.
"""
