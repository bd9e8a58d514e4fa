"""Log-mel normalisation statistics of a corpus: ``measure`` them, write ``stats.json``, merge
shards' parts, ``load_stats`` (docs/STATS.md). ``--normalization stats.json`` reads the file
through ``hear_byols.logmel.normalization.parse_normalization``.
"""
from hear_byols.logmel.corpus_stats import LogMelStats
from hear_byols.logmel.stats_file import CorpusStats, load_stats
from hear_byols.stats.measure import measure

__all__ = ["CorpusStats", "LogMelStats", "load_stats", "measure"]
