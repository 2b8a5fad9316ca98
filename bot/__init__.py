"""Article question-answering bot: articles -> passages -> BM25 index -> answers."""

__version__ = "0.1.0"
