"""Streaming timestamp embeddings of a loaded hear_byols model (``Stream``)."""
from hear_byols.streaming.stream import Stream, require_fixed_statistics

__all__ = ["Stream", "require_fixed_statistics"]
