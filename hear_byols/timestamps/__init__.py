"""The timestamp path: framing, the exact path (shared STFT across overlapping frames) and
the approximate sliding path."""
from hear_byols.timestamps.exact import timestamp_embeddings
from hear_byols.timestamps.framing import DEFAULT_FRAME_DURATION_MS, DEFAULT_HOP_SIZE_MS
from hear_byols.timestamps.sliding import sliding_timestamp_embeddings

__all__ = ["DEFAULT_FRAME_DURATION_MS", "DEFAULT_HOP_SIZE_MS", "sliding_timestamp_embeddings", "timestamp_embeddings"]
