"""Side-by-side benchmark of this bot and other BM25 engines (see bench/run.py)."""
