"""What comes in: HEAR audio tensors and lists (validation), and audio files (decode, resample)."""
