"""Passage vectors for an index build: what a passage's vector reads, computed once per article version.

A passage's vector reads its article title, its section titles and its text, so that a passage
under "Symptoms" of "Botulism" is about botulism's symptoms even where its text names neither.
Vectors are cached per article in the analysis cache under a key made of exactly what they depend
on: the texts the model reads, the model, and the code and vocabulary that run it. Re-indexing
after one article changed encodes that article's passages only; editing the synonyms encodes
nothing. The encoding itself runs after the build, by words first (:mod:`bot.vector_build`).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot.analysis import AnalysedArticle, AnalysisCache
from bot.encoder import DIMENSIONS, MODEL_ID, VOCABULARY
from bot.models import Passage

if TYPE_CHECKING:
    from bot.index_store import SearchIndex

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


def article_vector_key(texts: Sequence[str], model: str = MODEL_ID) -> str:
    """The cache key of one article's vectors: its passages' texts as the model reads them, the model, the code."""
    digest = hashlib.sha256(f"{model}\0{PASSAGE_TOKENS}\0{vector_code_digest()}".encode())
    for text in texts:
        digest.update(b"\0" + text.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def cached_vectors(articles: Sequence[AnalysedArticle], cache: AnalysisCache) -> tuple[np.ndarray | None, int]:
    """The float16 vectors of every passage in index order when the cache holds them all, else None; and
    how many passages lack them. Looking them up marks them used, so the cache keeps them."""
    missing = 0
    parts: list[np.ndarray] = []
    for article in articles:
        texts = [passage_meaning_text(p) for p in article.passages]
        vectors = cache.load_vectors(article_vector_key(texts), len(texts), DIMENSIONS)
        if vectors is None:
            missing += len(texts)
        else:
            parts.append(vectors)
    log.info("%s of %s article(s) have their passage vectors in the cache", len(parts), len(articles))
    if missing:
        return None, missing
    return (np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float16)), 0


def article_texts(index: SearchIndex) -> list[list[str]]:
    """What the model reads of each passage, grouped by article in index order."""
    texts: list[list[str]] = [[] for _ in index.articles()]
    for i, article in enumerate(index.passage_article.tolist()):
        texts[article].append(passage_meaning_text(index.passages[i]))
    return texts


def encode_missing(
    articles: Sequence[AnalysedArticle], cache: AnalysisCache, model_path: Path | None, progress: Progress | None
) -> tuple[np.ndarray | None, str]:
    """Every passage's float16 vector in index order, encoding in this process what the cache lacks (renamed
    copies once); or None and why the model cannot be used. For builds that wait for their vectors."""
    from bot.encoder import EncoderUnavailable, load_encoder

    texts = [[passage_meaning_text(p) for p in a.passages] for a in articles]
    keys = [article_vector_key(t) for t in texts]
    found = vectors_in_cache(cache, keys, texts)
    cached = sum(1 for key in keys if key in found)
    todo = list({k: t for k, t in zip(keys, texts) if k not in found}.items())
    pending = [text for _, t in todo for text in t]
    if pending:
        try:
            encoder = load_encoder(model_path)
            fresh = np.zeros((len(pending), DIMENSIONS), dtype=np.float16)
            for start in range(0, len(pending), ENCODE_CHUNK):
                if progress:
                    progress(start, len(pending), "encoding")
                fresh[start : start + ENCODE_CHUNK] = encoder.encode(
                    pending[start : start + ENCODE_CHUNK], PASSAGE_TOKENS
                )
        except EncoderUnavailable as exc:
            return None, str(exc)
        except Exception as exc:  # onnxruntime's own error types: build by words alone rather than not at all
            return None, f"the sentence model failed: {exc}"
        if progress:
            progress(len(pending), len(pending), "encoding")
        offset = 0
        for key, t in todo:
            found[key] = fresh[offset : offset + len(t)]
            offset += len(t)
            cache.store_vectors(key, found[key])
    log.info("encoded %s passages of %s article(s); %s article(s) from the cache", len(pending), len(todo), cached)
    parts = [found[key] for key in keys]
    return (np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float16)), ""


def vectors_in_cache(
    cache: AnalysisCache, keys: Sequence[str], texts: Sequence[Sequence[str]]
) -> dict[str, np.ndarray]:
    """The vectors the analysis cache holds for these articles, by key (an article's copies share one)."""
    found: dict[str, np.ndarray] = {}
    for key, t in zip(keys, texts):
        if key not in found:
            vectors = cache.load_vectors(key, len(t), DIMENSIONS)
            if vectors is not None:
                found[key] = vectors
    return found
