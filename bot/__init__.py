"""Article question-answering bot: articles -> passages -> BM25 index -> answers."""

from bot.config import single_threaded_blas

single_threaded_blas()  # before any module of the bot imports numpy

__version__ = "0.1.0"
