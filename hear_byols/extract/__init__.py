"""The extraction engine behind ``hear-byols embed``: discovery, decoding, batching, shards, journal, index."""
