"""The extraction engine: audio files in, one ``.npy`` per file and a provenance index out.

``embed_files`` is what ``hear-byols embed`` runs (the CLI only parses its arguments and turns
the outcome into an exit status); ``verify_embeddings`` and ``merge_index_now`` are the engines of
``hear-byols verify-embeddings`` and ``hear-byols index merge``. docs/EXTRACT.md shows their use.
"""
from hear_byols.distributed import Shard
from hear_byols.extract.embed import embed_files
from hear_byols.extract.outdir import merge_index_now
from hear_byols.extract.summary import Summary
from hear_byols.extract.verify import Verification, verify_embeddings

__all__ = ["embed_files", "Summary", "Shard", "verify_embeddings", "Verification", "merge_index_now"]
