"""One class per benchmarked system, each run in its own worker process (bench/worker.py).

The peers all index the same passages, the ones the bot built (section, subsection and text
joined into one string), and answer with their top 10:

- rank-bm25 BM25Okapi / BM25Plus and bm25s score the bot's own tokens (`bot.text.terms`), so
  their scoring sees exactly what the bot's does; their build time includes that tokenisation;
- tantivy (`en_stem` tokenizer) and SQLite FTS5 (`porter unicode61`) take the raw text and use
  their own tokenizer with English stemming, and persist their index in the work folder.

Every class has the same small interface: `build`, `update` (one article changed: returns
"incremental" when the engine can replace just that article, "full" when it rebuilds all),
`search` (ids of the top hits) and `disk_bytes` (None when the index lives only in memory).
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

TOP_K = 10
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Doc:
    """One of the bot's passages as the peers see it."""

    pid: int
    source: str
    text: str


def folder_bytes(path: Path) -> int:
    """Total size of the files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def plain_words(text: str) -> list[str]:
    """Lower-case word characters only, for engines with a query syntax of their own."""
    return WORD.findall(text.lower())


class Peer(Protocol):
    """What a worker needs from a peer engine."""

    name: str

    def build(self, docs: list[Doc], work: Path) -> None: ...

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str: ...

    def search(self, question: str) -> list[int]: ...

    def disk_bytes(self) -> int | None: ...


class RankBM25:
    """rank-bm25 (the library the bot is built on) over the bot's tokens; in memory."""

    def __init__(self, variant: str, k1: float, b: float) -> None:
        self.name = f"rank-bm25 {variant}"
        self.variant, self.k1, self.b = variant, k1, b
        self.model: Any = None
        self.ids: list[int] = []

    def build(self, docs: list[Doc], work: Path) -> None:
        import rank_bm25

        from bot.text import terms

        cls = rank_bm25.BM25Okapi if self.variant == "BM25Okapi" else rank_bm25.BM25Plus
        self.ids = [d.pid for d in docs]
        self.model = cls([terms(d.text) for d in docs], k1=self.k1, b=self.b)

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str:
        self.model = None  # so the peak RSS never holds two models
        self.build(docs, Path())
        return "full"

    def search(self, question: str) -> list[int]:
        import numpy as np

        from bot.text import terms

        tokens = terms(question)
        if not tokens:
            return []
        scores = self.model.get_scores(tokens)
        k = min(TOP_K, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        return [self.ids[i] for i in top[np.argsort(-scores[top])]]

    def disk_bytes(self) -> int | None:
        return None


class BM25S:
    """bm25s (sparse-matrix BM25, method "lucene") over the bot's tokens; saved with .save() for its size."""

    name = "bm25s"

    def __init__(self, k1: float, b: float) -> None:
        self.k1, self.b = k1, b
        self.model: Any = None
        self.ids: list[int] = []
        self.work = Path()

    def build(self, docs: list[Doc], work: Path) -> None:
        import bm25s

        from bot.text import terms

        self.work = work
        self.ids = [d.pid for d in docs]
        self.model = bm25s.BM25(k1=self.k1, b=self.b, method="lucene")
        self.model.index([terms(d.text) for d in docs], show_progress=False)

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str:
        self.model = None  # so the peak RSS never holds two models
        self.build(docs, self.work)
        return "full"

    def search(self, question: str) -> list[int]:
        from bot.text import terms

        vocab = self.model.vocab_dict
        tokens = [t for t in terms(question) if t in vocab]
        if not tokens:
            return []
        found, _ = self.model.retrieve([tokens], k=min(TOP_K, len(self.ids)), show_progress=False, n_threads=1)
        return [self.ids[i] for i in found[0]]

    def disk_bytes(self) -> int | None:
        target = self.work / "bm25s"
        self.model.save(str(target), show_progress=False)
        return folder_bytes(target)


class Tantivy:
    """tantivy-py on disk, `en_stem` tokenizer, default writer threads; default query parser (OR)."""

    name = "tantivy"

    def __init__(self) -> None:
        self.index: Any = None
        self.writer: Any = None
        self.path = Path()

    def document(self, doc: Doc) -> Any:
        import tantivy

        return tantivy.Document(pid=doc.pid, source=doc.source, body=doc.text)

    def build(self, docs: list[Doc], work: Path) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("pid", stored=True, indexed=True)
        builder.add_text_field("source", stored=False, tokenizer_name="raw")
        builder.add_text_field("body", stored=False, tokenizer_name="en_stem")
        self.path = work / "tantivy"
        self.path.mkdir(parents=True)
        self.index = tantivy.Index(builder.build(), path=str(self.path))
        self.writer = self.index.writer(heap_size=128_000_000)
        for doc in docs:
            self.writer.add_document(self.document(doc))
        self.writer.commit()
        self.index.reload()

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str:
        self.writer.delete_documents_by_term("source", source)
        for doc in changed:
            self.writer.add_document(self.document(doc))
        self.writer.commit()
        self.index.reload()
        return "incremental"

    def search(self, question: str) -> list[int]:
        words = plain_words(question)
        if not words:
            return []
        query = self.index.parse_query(" ".join(words), ["body"])
        searcher = self.index.searcher()
        return [searcher.doc(address)["pid"][0] for _, address in searcher.search(query, TOP_K).hits]

    def disk_bytes(self) -> int | None:
        self.writer.wait_merging_threads()
        return folder_bytes(self.path)


class FTS5:
    """SQLite FTS5 in a database file, `porter unicode61` tokenizer, words OR-ed, ORDER BY rank (bm25)."""

    name = "SQLite FTS5"

    def __init__(self) -> None:
        self.db: sqlite3.Connection | None = None
        self.path = Path()

    def build(self, docs: list[Doc], work: Path) -> None:
        self.path = work / "fts5.sqlite"
        self.db = sqlite3.connect(self.path)
        with self.db:
            self.db.execute("CREATE VIRTUAL TABLE p USING fts5(body, source UNINDEXED, tokenize='porter unicode61')")
            self.db.executemany(
                "INSERT INTO p(rowid, body, source) VALUES (?, ?, ?)", [(d.pid, d.text, d.source) for d in docs]
            )

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str:
        assert self.db is not None
        with self.db:
            self.db.execute("DELETE FROM p WHERE source = ?", (source,))
            self.db.executemany(
                "INSERT INTO p(rowid, body, source) VALUES (?, ?, ?)", [(d.pid, d.text, d.source) for d in changed]
            )
        return "incremental"

    def search(self, question: str) -> list[int]:
        assert self.db is not None
        words = plain_words(question)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        rows = self.db.execute("SELECT rowid FROM p WHERE p MATCH ? ORDER BY rank LIMIT ?", (match, TOP_K))
        return [row[0] for row in rows]

    def disk_bytes(self) -> int | None:
        return self.path.stat().st_size


class Hybrid:
    """The hybrid pipeline a user could assemble: bm25s, plus the question encoded with the bot's sentence
    model, plus one dot product over all passage vectors (the bot's own, read from its index); the top 10
    of the bm25s top 100 and the 10 nearest by meaning, blended 50/50 (bm25 share of its best, cosine)."""

    name = "hybrid (bm25s + model + dot)"

    def __init__(self, k1: float, b: float) -> None:
        self.words = BM25S(k1, b)
        self.vectors: Any = None
        self.encoder: Any = None

    def build(self, docs: list[Doc], work: Path) -> None:
        from bot.encoder import load_encoder
        from bot.index_store import read_index

        self.words.build(docs, work)
        index = read_index(work.parent / "index")  # the bot's build of the same passages, in the same order
        if index.vectors is None or len(index.vectors) != len(docs):
            raise RuntimeError("the bot's index has no passage vectors for these passages")
        self.vectors = index.vectors
        self.encoder = load_encoder(None)

    def update(self, docs: list[Doc], source: str, changed: list[Doc]) -> str:
        self.words.update(docs, source, changed)
        return "full (words only)"

    def search(self, question: str) -> list[int]:
        import numpy as np

        from bot.text import terms

        asked = self.encoder.encode([question])[0]
        cosine = self.vectors @ asked
        vocab = self.words.model.vocab_dict
        tokens = [t for t in terms(question) if t in vocab]
        k = min(100, len(self.words.ids))
        scores: dict[int, float] = {}
        if tokens:
            found, values = self.words.model.retrieve([tokens], k=k, show_progress=False, n_threads=1)
            best = max(float(values[0][0]), 1e-9)
            scores = {int(i): 0.5 * float(v) / best for i, v in zip(found[0], values[0])}
        near = np.argpartition(-cosine, min(TOP_K, len(cosine) - 1))[:TOP_K]
        for i in set(scores) | {int(i) for i in near}:
            scores[i] = scores.get(i, 0.0) + 0.5 * float(cosine[i])
        top = sorted(scores, key=lambda i: -scores[i])[:TOP_K]
        return [self.words.ids[i] for i in top]

    def disk_bytes(self) -> int | None:
        return None


def make_peer(name: str) -> Peer:
    """A peer by its command-line name, with the bot's k1 and b for the BM25 libraries."""
    from bot.config import Ranking

    ranking = Ranking()
    peers: dict[str, Any] = {
        "okapi": lambda: RankBM25("BM25Okapi", ranking.k1, ranking.b),
        "plus": lambda: RankBM25("BM25Plus", ranking.k1, ranking.b),
        "bm25s": lambda: BM25S(ranking.k1, ranking.b),
        "hybrid": lambda: Hybrid(ranking.k1, ranking.b),
        "tantivy": Tantivy,
        "fts5": FTS5,
    }
    return peers[name]()


class BotInProcess:
    """This bot through its Python API: `build_index`, then `Engine.answer(question, None, limit=10)`."""

    name = "bot in process"

    def __init__(self, corpus: Path, work: Path) -> None:
        from bot.config import Settings

        self.settings = replace(
            Settings(), corpus_dir=corpus, index_dir=work / "index", data_dir=work / "data", reload_seconds=3600
        )
        self.engine: Any = None

    def build(self) -> tuple[int, float]:
        """A full build, waiting for the passage vectors: the passage count and the seconds until the
        build answered by words."""
        from bot.builder import add_vectors, build_words_first

        started = time.perf_counter()
        report = build_words_first(self.settings)
        words_s = time.perf_counter() - started
        add_vectors(self.settings, report, None, wait=True)
        return report.passages, words_s

    def model_rate(self, sample: int = 512) -> float | None:
        """Passages per second the sentence model alone encodes (texts as the build gives them), on a sample."""
        from bot.encoder import EncoderUnavailable, load_encoder
        from bot.vectors import PASSAGE_TOKENS, passage_meaning_text

        try:
            encoder = load_encoder(self.settings.encoder_model)
        except EncoderUnavailable:
            return None
        passages = self.engine.snapshot().index.passages
        texts = [passage_meaning_text(passages[i]) for i in range(min(sample, len(passages)))]
        started = time.perf_counter()
        encoder.encode(texts, PASSAGE_TOKENS)
        return len(texts) / (time.perf_counter() - started)

    def open(self) -> None:
        from bot.engine import Engine

        self.engine = Engine(self.settings)
        self.engine.open()

    def passages(self) -> list[Any]:
        return list(self.engine.snapshot().index.passages)

    def search(self, question: str) -> list[Any]:
        return list(self.engine.answer(question, None, limit=TOP_K).results)

    def disk_bytes(self) -> int:
        return folder_bytes(self.settings.index_dir)


# The command-line names, in table order; "bot" and "ask" are this bot, the rest are peers.
ALL_SYSTEMS = ("bot", "ask", "okapi", "plus", "bm25s", "hybrid", "tantivy", "fts5")
