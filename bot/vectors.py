"""Passage vectors for an index build: what a passage's vector reads, computed once per article version.

A passage's vector reads its article title, its section titles and its text, so that a passage
under "Symptoms" of "Botulism" is about botulism's symptoms even where its text names neither.
Vectors are cached per article (name, content and model) in the analysis cache, so re-indexing
after one article changed encodes that article's passages only.
"""

from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from bot.analysis import AnalysedArticle, AnalysisCache
from bot.encoder import DIMENSIONS, SentenceEncoder
from bot.models import Passage

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
ENCODE_CHUNK = 256  # passages encoded between progress reports


def passage_meaning_text(passage: Passage) -> str:
    """'Botulism. Symptoms. The classic symptoms include...': title, section titles, text."""
    parts = [passage.article]
    heading = passage.heading
    if heading and heading != passage.article:
        parts.append(heading)
    parts.append(passage.text)
    return ". ".join(p.strip().rstrip(".") for p in parts if p.strip())


def passage_vectors(articles: Sequence[AnalysedArticle], encoder: SentenceEncoder, cache: AnalysisCache, progress: Progress | None = None) -> np.ndarray:
    """One float16 unit vector per passage, in index order, taking unchanged articles' vectors from the cache."""
    found = [cache.load_vectors(a, encoder.identity, DIMENSIONS) for a in articles]
    missing = [a for a, v in zip(articles, found) if v is None]
    texts = [passage_meaning_text(p) for a in missing for p in a.passages]
    fresh = np.zeros((len(texts), DIMENSIONS), dtype=np.float16)
    for start in range(0, len(texts), ENCODE_CHUNK):
        if progress:
            progress(start, len(texts), "encoding passages")
        fresh[start : start + ENCODE_CHUNK] = encoder.encode(texts[start : start + ENCODE_CHUNK])
    if progress and texts:
        progress(len(texts), len(texts), "encoding passages")
    if texts:
        log.info("encoded %s passages of %s article(s); %s article(s) from the cache", len(texts), len(missing), len(articles) - len(missing))
    offset = 0
    parts: list[np.ndarray] = []
    for article, vectors in zip(articles, found):
        if vectors is None:
            vectors = fresh[offset : offset + len(article.passages)]
            offset += len(article.passages)
            cache.store_vectors(article, encoder.identity, vectors)
        parts.append(vectors)
    return np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float16)
