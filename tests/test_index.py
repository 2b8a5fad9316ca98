"""The index on disk: round trip, manifest, no pickle, corruption, staleness, atomic swap."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_seed_index
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from bot import bm25, builder, index_store
from bot.builder import build_index, synonyms_for
from bot.config import Settings
from bot.corpus import list_corpus
from bot.engine import Engine
from bot.errors import BotError, IndexCorruptError, IndexMissingError
from bot.index_store import MANIFEST, SearchIndex, read_index, read_manifest
from bot.indexing import field_terms, title_terms
from bot.passages import build_passages
from bot.readers import parse_article
from bot.text import terms

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
K2_QUESTION = "what foods have K2?"


@pytest.fixture
def settings(tmp_path: Path, seed_corpus: Callable[[Path], Path], make_settings: Callable[..., Settings]) -> Settings:
    seed_corpus(tmp_path)
    return make_settings(tmp_path, reload_seconds=0)


@pytest.fixture
def built(settings: Settings, seed_build: Path) -> Settings:
    copy_seed_index(seed_build, settings.index_dir)  # the session's seed build: encoding it again is most of a build
    return settings


def current_build_dir(settings: Settings) -> Path:
    return settings.index_dir / read_manifest(settings.index_dir)["build_dir"]


# ----- round trip ----------------------------------------------------------------------------
def test_round_trip_same_passages(built: Settings) -> None:
    index = read_index(built.index_dir)
    articles = [parse_article(path.read_bytes(), path.name) for path in list_corpus(built.corpus_dir).paths]
    expected = [p for a in articles for p in build_passages(a, built.build.max_words)]
    assert index.passages == expected
    assert index.fields["body"].size == len(expected) == index.fields["heading"].size
    assert index.fields["title"].size == 1 and index.passage_article.tolist() == [0] * len(expected)


def array_scores(
    index: SearchIndex, field: str, query: list[str], variant: str, k1: float, b: float, delta: float
) -> np.ndarray:
    """Sum of the stored field's BM25 weights per passage for the query terms, from the index arrays."""
    arrays = index.fields[field]
    weights = bm25.impacts(arrays, variant, k1, b, delta)
    scores = np.zeros(arrays.size)
    ids = {t: i for i, t in enumerate(index.terms)}
    for term in query:
        if term in ids:
            start, end = arrays.indptr[ids[term]], arrays.indptr[ids[term] + 1]
            scores[arrays.docs[start:end]] += weights[start:end]
    return scores


@pytest.mark.parametrize("variant, cls", [("okapi", BM25Okapi), ("plus", BM25Plus), ("l", BM25L)])
@pytest.mark.parametrize("b", [0.2, 0.75])
def test_scores_equal_rank_bm25(built: Settings, variant: str, cls: type, b: float) -> None:
    """The stored arrays give rank-bm25's weights for the same tokens.

    A passage's score is rank-bm25's weight of each query term summed over the terms it holds.
    For Okapi and BM25L that is exactly rank-bm25's get_scores. BM25+ (as Lv and Zhai define it)
    gives a term the passage lacks nothing, while rank-bm25's get_scores adds the delta floor to
    every passage for every query term, so for BM25+ the check is term by term on the passages
    that hold it.
    """
    index = read_index(built.index_dir)
    synonyms = synonyms_for(built)
    k1, delta = 1.2, 1.0
    extra = {} if variant == "okapi" else {"delta": delta}
    for field, tokens in (
        ("body", [field_terms(p.text, synonyms) for p in index.passages]),
        ("heading", [title_terms(p, synonyms) for p in index.passages]),
    ):
        reference = cls(tokens, k1=k1, b=b, **extra)
        holders = [set(t) for t in tokens]
        for question in (K2_QUESTION, "how much vitamin d3 daily iu", "magnesium bone", "calcium calcium arteries"):
            query = terms(question)
            got = array_scores(index, field, query, variant, k1, b, delta)
            assert got.max() > 0
            if variant != "plus":
                assert np.allclose(got, reference.get_scores(query), rtol=1e-5, atol=1e-5), (field, question)
            for term in query:
                held = np.array([term in h for h in holders])
                assert np.allclose(
                    array_scores(index, field, [term], variant, k1, b, delta)[held],
                    np.asarray(reference.get_scores([term]))[held],
                    rtol=1e-5,
                    atol=1e-5,
                )
            expected = sum(np.where([t in h for h in holders], reference.get_scores([t]), 0.0) for t in query)
            assert np.allclose(got, expected, rtol=1e-5, atol=1e-5), (field, question)


def test_round_trip_same_answers(built: Settings) -> None:
    first = Engine(built).answer(K2_QUESTION)
    second = Engine(built).answer(K2_QUESTION)
    assert first.results and "Natto" in first.results[0].text
    assert [(r.text, r.score) for r in first.results] == [(r.text, r.score) for r in second.results]


# ----- manifest and format -------------------------------------------------------------------
def test_manifest_contents(built: Settings) -> None:
    manifest = json.loads((built.index_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format_version"] == index_store.FORMAT_VERSION == 5
    assert manifest["format"] == index_store.FORMAT
    assert manifest["bm25"] == {"max_words": built.build.max_words}
    fingerprint = manifest["corpus"]["fingerprint"]
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0
    built_at = datetime.fromisoformat(manifest["built_at"])
    assert built_at.tzinfo is not None
    assert manifest["counts"]["articles"] == 1
    assert manifest["counts"]["passages"] == len(read_index(built.index_dir).passages)
    assert set(manifest["sha256"]) == set(index_store.DATA_FILES) | {index_store.VECTORS}
    article = manifest["corpus"]["articles"][0]
    assert article["name"] == "vitamin-k2-d3-bone-density.txt"
    assert "Dietary Sources of K2 and D3" in article["sections"]


def test_no_pickle_anywhere(built: Settings) -> None:
    files = [p for p in built.index_dir.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert path.suffix not in (".pkl", ".pickle", ".npz", ".joblib"), path
        data = path.read_bytes()
        assert not data.startswith(b"\x80"), f"{path} looks like a pickle"
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)  # raises for object arrays, which need pickle
            assert array.dtype.kind in "if", path
        elif path.name.endswith(".jsonl"):
            for line in data.decode("utf-8").splitlines():
                json.loads(line)
        elif path.name.endswith(".json"):
            json.loads(data)
        elif path.name == "analysis-cache.sqlite3":  # JSON text in SQLite rows
            assert data.startswith(b"SQLite format 3\x00")
        else:
            assert path.name in (".build.lock", ".encode.lock") and data == b"", path


def test_fingerprint_changes_with_corpus(built: Settings) -> None:
    before = read_manifest(built.index_dir)["corpus"]["fingerprint"]
    build_index(built)
    assert read_manifest(built.index_dir)["corpus"]["fingerprint"] == before  # same corpus, same fingerprint
    shutil.copy(FIXTURES / "sleep-hygiene.md", built.corpus_dir)
    build_index(built)
    assert read_manifest(built.index_dir)["corpus"]["fingerprint"] != before


# ----- corruption ----------------------------------------------------------------------------
def assert_says_how_to_rebuild(exc: BaseException) -> None:
    assert "run_bot.py reindex" in str(exc)


@pytest.mark.parametrize(
    "garbage", [b"{not json", b"", b"\x00\xff\xfe binary", b"[1, 2, 3]", b'{"format": "something-else"}']
)
def test_corrupt_manifest(built: Settings, garbage: bytes) -> None:
    (built.index_dir / MANIFEST).write_bytes(garbage)
    with pytest.raises(IndexCorruptError) as info:
        read_index(built.index_dir)
    assert_says_how_to_rebuild(info.value)


@pytest.mark.parametrize(
    "damage",
    [
        {"corpus": "x"},
        {"corpus": {"articles": "x"}},
        {"corpus": {"articles": [1, 2, 3]}},
        {"article": {"bytes": "abc"}},
        {"article": {"name": None}},
        {"counts": "x"},
        {"counts": {"passages": "34"}},
        {"sha256": ["x"]},
    ],
)
def test_a_manifest_of_the_wrong_shape_is_corrupt(built: Settings, damage: dict) -> None:
    """JSON that parses but has fields of the wrong type (a hand edit) crashed ask and reindex with a traceback."""
    path = built.index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if "article" in damage:
        manifest["corpus"]["articles"][0].update(damage["article"])
    else:
        manifest.update(damage)
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="damaged") as info:
        read_index(built.index_dir)
    assert_says_how_to_rebuild(info.value)
    report = build_index(built)  # and a rebuild replaces it
    assert report.manifest["counts"]["passages"] > 0
    assert read_index(built.index_dir).build_id == report.manifest["build_id"]


def test_a_file_over_the_size_limit_is_not_read_to_check_freshness(tmp_path: Path) -> None:
    """Its size and time stand for it: an 8 GB file in the corpus was read whole at every start."""
    from bot.corpus import current_digests

    (tmp_path / "small.md").write_text("# Small\n\nText.\n", encoding="utf-8")
    with (tmp_path / "huge.txt").open("wb") as handle:
        handle.truncate(3 * 2**30)  # sparse: takes no disk, but reading it would take 3 GB
    digests = current_digests(tmp_path, None, max_bytes=1000)
    stat = (tmp_path / "huge.txt").stat()
    assert digests["huge.txt"] == f"over-limit:{stat.st_size}:{stat.st_mtime_ns}"
    assert len(digests["small.md"]) == 64


def test_unsupported_format_version(built: Settings) -> None:
    path = built.index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] = 999
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="999") as info:
        read_index(built.index_dir)
    assert_says_how_to_rebuild(info.value)


@pytest.mark.parametrize("name", index_store.DATA_FILES)
def test_modified_data_file_fails_checksum(built: Settings, name: str) -> None:
    path = current_build_dir(built) / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] = ord("X") if data[len(data) // 2] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="checksum") as info:
        read_index(built.index_dir)
    assert name in str(info.value)
    assert_says_how_to_rebuild(info.value)


def test_missing_build_dir(built: Settings) -> None:
    shutil.rmtree(current_build_dir(built))
    with pytest.raises(IndexCorruptError) as info:
        read_index(built.index_dir)
    assert_says_how_to_rebuild(info.value)


def test_missing_data_file(built: Settings) -> None:
    (current_build_dir(built) / "body.tf.npy").unlink()
    with pytest.raises(IndexCorruptError) as info:
        read_index(built.index_dir)
    assert "body.tf.npy" in str(info.value)
    assert_says_how_to_rebuild(info.value)


def test_missing_index(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError) as info:
        read_index(tmp_path / "no-index-here")
    assert_says_how_to_rebuild(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IndexMissingError):
        read_index(tmp_path / "empty")


# ----- rebuild on first use ------------------------------------------------------------------
def test_open_builds_missing_index(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    assert not (settings.index_dir / MANIFEST).exists()
    with caplog.at_level(logging.INFO):
        Engine(settings).open()
    assert (settings.index_dir / MANIFEST).is_file()
    assert any("no index" in r.getMessage() and "building" in r.getMessage() for r in caplog.records), caplog.text
    assert read_index(settings.index_dir).passages


def test_open_without_auto_build_reports_missing_index(settings: Settings) -> None:
    with pytest.raises(IndexMissingError):
        Engine(settings, auto_build=False).open()


def test_open_rebuilds_corrupt_index(built: Settings, caplog: pytest.LogCaptureFixture) -> None:
    (built.index_dir / MANIFEST).write_text("garbage", encoding="utf-8")
    with caplog.at_level(logging.INFO):
        engine = Engine(built)
        engine.open()
    assert any("rebuilding" in r.getMessage() for r in caplog.records), caplog.text
    assert "Natto" in engine.answer(K2_QUESTION).results[0].text


def test_open_rebuilds_when_corpus_changed(built: Settings, caplog: pytest.LogCaptureFixture) -> None:
    old = read_manifest(built.index_dir)
    with caplog.at_level(logging.INFO):
        Engine(built).open()
    assert read_manifest(built.index_dir)["build_id"] == old["build_id"]  # unchanged corpus: no rebuild
    assert not any("rebuilding" in r.getMessage() for r in caplog.records)

    shutil.copy(FIXTURES / "sleep-hygiene.md", built.corpus_dir)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        engine = Engine(built)
        engine.open()
    assert any("changed" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records), caplog.text
    new = read_manifest(built.index_dir)
    assert new["build_id"] != old["build_id"]
    assert new["counts"]["articles"] == 2
    answer = engine.answer("how many hours of sleep do adults need")
    assert answer.results and answer.results[0].source == "sleep-hygiene.md"


def test_open_rebuilds_when_article_edited(built: Settings) -> None:
    old = read_manifest(built.index_dir)["build_id"]
    article = built.corpus_dir / "vitamin-k2-d3-bone-density.txt"
    article.write_text(
        article.read_text(encoding="utf-8") + "\nQuokkas enjoy natto on quiet Sundays.\n", encoding="utf-8"
    )
    engine = Engine(built)
    engine.open()
    assert read_manifest(built.index_dir)["build_id"] != old
    assert engine.answer("quokkas").results


def test_failed_rebuild_keeps_old_index_serving(built: Settings, caplog: pytest.LogCaptureFixture) -> None:
    old = read_manifest(built.index_dir)["build_id"]
    (built.corpus_dir / "broken.txt").write_bytes(b"")
    with caplog.at_level(logging.INFO):
        engine = Engine(built)
        engine.open()
    assert any(r.levelno >= logging.ERROR and "broken.txt" in r.getMessage() for r in caplog.records), caplog.text
    assert read_manifest(built.index_dir)["build_id"] == old
    answer = engine.answer(K2_QUESTION)
    assert answer.results and "Natto" in answer.results[0].text
    # an explicit build fails loudly, naming the file, and changes nothing
    with pytest.raises(BotError, match="broken.txt"):
        build_index(built)
    assert read_manifest(built.index_dir)["build_id"] == old


# ----- small corpora -------------------------------------------------------------------------
def test_two_passage_corpus_scores_above_zero(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """BM25Okapi gives every term of a two-document corpus zero IDF; the configured variant must not."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "tiny.md").write_text(
        "# Tiny\n\n## Minerals\n\nMagnesium helps muscles relax after exercise and supports bone health.\n\n"
        "## Vitamins\n\nVitamin C supports the immune system and also helps bone health.\n",
        encoding="utf-8",
    )
    settings = make_settings(tmp_path)
    report = build_index(settings)
    assert report.passages == 2
    engine = Engine(settings)
    only_one = engine.answer("magnesium muscles")  # a term in one of the two passages
    assert only_one.results and only_one.results[0].section == "Minerals"
    assert only_one.results[0].score > 0
    both = engine.answer("bone health")  # terms in both passages
    assert both.results and all(r.score > 0 for r in both.results)


def test_single_passage_corpus(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "one.txt").write_text(
        "Kettles\n\nDescale a kettle with vinegar and water once a month.\n", encoding="utf-8"
    )
    settings = make_settings(tmp_path)
    assert build_index(settings).passages == 1
    answer = Engine(settings).answer("how to descale a kettle")
    assert answer.results and answer.results[0].score > 0


# ----- atomic swap ---------------------------------------------------------------------------
def test_build_writes_then_swaps_and_cleans_old_builds(settings: Settings) -> None:
    ids = []
    for _ in range(4):
        build_index(settings)
        ids.append(read_manifest(settings.index_dir)["build_dir"])
    assert len(set(ids)) == 4
    kept = (".build.lock", ".encode.lock", "encoding.json", "analysis-cache.sqlite3")
    entries = {p.name for p in settings.index_dir.iterdir() if p.name not in kept}
    assert entries == {MANIFEST, ids[-1], ids[-2]}  # current and previous build only
    assert not any(name.startswith(".tmp-") or name.startswith(f".{MANIFEST}") for name in entries)
    assert all((settings.index_dir / i).is_dir() for i in ids[-2:])
    manifest = read_manifest(settings.index_dir)
    assert manifest["build_dir"] == ids[-1] and manifest["previous_build_dir"] == ids[-2]


def test_crash_during_write_leaves_previous_index(built: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure half-way through writing a build changes nothing readers can see."""
    before = read_manifest(built.index_dir)
    builds_before = sorted(p.name for p in built.index_dir.iterdir() if p.name.startswith("build-"))
    real_write = index_store.write_synced

    def crash_on_vocabulary(path: Path, data: bytes) -> None:
        if path.name == "vocabulary.json":
            raise OSError(28, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(index_store, "write_synced", crash_on_vocabulary)
    shutil.copy(FIXTURES / "sleep-hygiene.md", built.corpus_dir)
    with pytest.raises(BotError, match="cannot write the index .*No space left on device"):
        build_index(built)
    monkeypatch.undo()
    assert read_manifest(built.index_dir) == before
    assert read_index(built.index_dir).build_id == before["build_id"]
    leftovers = [p.name for p in built.index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
    builds = sorted(p.name for p in built.index_dir.iterdir() if p.name.startswith("build-"))
    assert builds == builds_before and before["build_dir"] in builds


def test_code_digest_follows_pipeline_sources_only(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "readers").mkdir(parents=True)
    (package / "readers" / "plain.py").write_text("A = 1\n")
    (package / "text.py").write_text("B = 1\n")
    (package / "cli.py").write_text("C = 1\n")
    modules = ("readers", "text.py")
    first = builder.code_digest(package, modules)
    (package / "cli.py").write_text("C = 2\n")  # not part of the pipeline
    assert builder.code_digest(package, modules) == first
    (package / "readers" / "plain.py").write_text("A = 2\n")
    assert builder.code_digest(package, modules) != first


def test_staleness_follows_every_module_the_build_imports() -> None:
    """bm25.py was missing from a hand-kept list although the build stores its output."""
    package = Path(builder.__file__).resolve().parent
    modules = builder.imported_modules(package, "builder.py")
    assert {"bm25.py", "indexing.py", "analysis.py", "text.py", "readers/markdown.py", "thesaurus.py"} <= set(modules)
    assert not {"cli.py", "search.py", "engine.py", "telegram/app.py"} & set(modules)  # question-time code only


def test_manifest_records_pipeline_code(built: Settings) -> None:
    assert read_manifest(built.index_dir)["pipeline_code_sha256"] == builder.pipeline_code_digest()


def test_open_rebuilds_after_a_code_upgrade(
    built: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An index built by older reader/passage/text code is rebuilt, not served as it was."""
    old = read_manifest(built.index_dir)
    monkeypatch.setattr(builder, "pipeline_code_digest", lambda: "digest of a newer release")
    with caplog.at_level(logging.WARNING):
        Engine(built).open()
    assert "indexing code changed" in caplog.text
    new = read_manifest(built.index_dir)
    assert new["build_id"] != old["build_id"]
    assert new["pipeline_code_sha256"] == "digest of a newer release"


def test_a_build_stores_its_words_stems_and_its_passages_sentences(built: Settings) -> None:
    """Answering reads them instead of running NLTK's stemmer and sentence splitter (a quarter second to import)."""
    from bot.text import split_sentences, stem

    index = read_index(built.index_dir)
    assert index.stems and all(index.stems[word] == stem(word) for word in list(index.vocabulary)[:200])
    assert all(word in index.stems for word in ("what", "foods", "have"))
    for passage in index.passages:
        assert passage.sentences
        assert [passage.text[a:b] for a, b in passage.sentences] == split_sentences(passage.text)
