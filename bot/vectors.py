"""Passage vectors for an index build: what a passage's vector reads, computed once per article version.

A passage's vector reads its article title, its section titles and its text, so that a passage
under "Symptoms" of "Botulism" is about botulism's symptoms even where its text names neither.
Vectors are cached per article in the analysis cache under a key made of exactly what they depend
on: the texts the model reads, the model, and the code and vocabulary that run it. Re-indexing
after one article changed encodes that article's passages only; editing the synonyms encodes
nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.analysis import AnalysedArticle, AnalysisCache
from bot.encoder import DIMENSIONS, VOCABULARY, SentenceEncoder
from bot.models import Passage

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
ENCODE_CHUNK = 256  # passages encoded between progress reports
PASSAGE_TOKENS = (
    256  # word pieces of a passage the model reads (its own limit; a 160-word passage with its titles fits)
)


def passage_meaning_text(passage: Passage) -> str:
    """'Botulism. Symptoms. The classic symptoms include...': title, section titles, text."""
    parts = [passage.article]
    heading = passage.heading
    if heading and heading != passage.article:
        parts.append(heading)
    parts.append(passage.text)
    return ". ".join(p.strip().rstrip(".") for p in parts if p.strip())


@lru_cache(maxsize=1)
def vector_code_digest() -> str:
    """SHA-256 over the code and the vocabulary that turn text into vectors."""
    digest = hashlib.sha256()
    for path in (Path(__file__).with_name("encoder.py"), Path(__file__), VOCABULARY):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def article_vector_key(texts: Sequence[str], model: str) -> str:
    """The cache key of one article's vectors: its passages' texts as the model reads them, the model, the code."""
    digest = hashlib.sha256(f"{model}\0{PASSAGE_TOKENS}\0{vector_code_digest()}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def passage_vectors(
    articles: Sequence[AnalysedArticle],
    encoder: SentenceEncoder,
    cache: AnalysisCache,
    progress: Progress | None = None,
) -> np.ndarray:
    """One float16 unit vector per passage, in index order, taking unchanged articles' vectors from the cache."""
    texts = [[passage_meaning_text(p) for p in a.passages] for a in articles]
    keys = [article_vector_key(t, encoder.identity) for t in texts]
    found = [cache.load_vectors(key, len(t), DIMENSIONS) for key, t in zip(keys, texts)]
    missing = [t for t, v in zip(texts, found) if v is None]
    pending = [text for t in missing for text in t]
    fresh = np.zeros((len(pending), DIMENSIONS), dtype=np.float16)
    for start in range(0, len(pending), ENCODE_CHUNK):
        if progress:
            progress(start, len(pending), "encoding")
        fresh[start : start + ENCODE_CHUNK] = encoder.encode(pending[start : start + ENCODE_CHUNK], PASSAGE_TOKENS)
    if progress and pending:
        progress(len(pending), len(pending), "encoding")
    log.info(
        "encoded %s passages of %s article(s); %s article(s) from the cache",
        len(pending),
        len(missing),
        len(articles) - len(missing),
    )
    offset = 0
    parts: list[np.ndarray] = []
    for key, t, vectors in zip(keys, texts, found):
        if vectors is None:
            vectors = fresh[offset : offset + len(t)]
            offset += len(t)
            cache.store_vectors(key, vectors)
        parts.append(vectors)
    return np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float16)
