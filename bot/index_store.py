"""The index on disk: plain JSON files under a build folder, and a manifest that points at them.

Layout of an index directory (format version 4)::

    manifest.json                     # the only file readers open first; replaced atomically
    build-<id>/passages.jsonl         # one passage per line, with its sentence spans
    build-<id>/terms.json             # the shared term list; a term's id is its position
    build-<id>/passage_article.npy    # the article (position in the manifest's list) of each passage
    build-<id>/<field>.<array>.npy    # per field (body, heading, title): indptr, docs, tf, doc_len
    build-<id>/<field>.article_df.npy # body and heading: per posting, passages of its article with the term
    build-<id>/vocabulary.json        # surface words -> passage counts (spelling correction)
    build-<id>/families.json          # Lancaster root -> index stems (word families, bot.families)
    build-<id>/acronyms.json          # acronym stem -> the stems of the long form the articles define (bot.acronyms)
    build-<id>/thesaurus.json         # word the articles use -> index stems of its WordNet synonyms (bot.thesaurus)
    build-<id>/synonyms.json          # the synonym rules the build used; questions are read with the same rules
    build-<id>/stems.json             # every word of the articles, synonym rules and stopwords -> its stem (bot.text)
    build-<id>/vectors.npy            # optional: float16 sentence vectors, one row per passage (bot.vectors);
                                      # the manifest's "encoder" names the model, "" when the build has none

The arrays are plain ``.npy`` files (no pickle) in the style of bm25s; ``bot.indexing`` says
what they hold.

A build writes a new ``build-<id>`` folder, fsyncs it, then renames a new manifest over the
old one, so readers see either the old index or the new one, never a mix. The previous build
is kept for readers that are still on it; older ones are removed.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict, cast, overload

import numpy as np

from bot.encoder import DIMENSIONS
from bot.errors import IndexCorruptError, IndexMissingError, IndexStoreError
from bot.indexing import FIELDS, PASSAGE_FIELDS, FieldArrays
from bot.models import Passage

FORMAT = "article-qa-bm25"
FORMAT_VERSION = 5  # 5: stems.json, and each passage's sentence spans
MANIFEST = "manifest.json"
PIPELINE_VERSION = "tokens-v1+snowball-english+stopwords-v1+fields-v3"
ARRAYS = ("indptr", "docs", "tf", "doc_len")


@dataclass(frozen=True)
class JsonPart:
    """One JSON file of a build: the SearchIndex field it holds and how its parsed JSON becomes that field."""

    file: str
    attribute: str
    decode: Callable[[Any], Any]


# The index's parts, declared once: write_index, read_build and DATA_FILES all follow these lists.
JSON_PARTS = (
    JsonPart("terms.json", "terms", lambda v: [str(t) for t in v]),
    JsonPart("vocabulary.json", "vocabulary", lambda v: {str(k): int(n) for k, n in v.items()}),
    JsonPart("families.json", "families", lambda v: {str(k): [str(s) for s in m] for k, m in v.items()}),
    JsonPart("acronyms.json", "acronyms", lambda v: {str(k): tuple(str(s) for s in m) for k, m in v.items()}),
    JsonPart("thesaurus.json", "related", lambda v: {str(k): tuple(str(s) for s in m) for k, m in v.items()}),
    JsonPart("synonyms.json", "synonym_rules", lambda v: [str(t) for t in v]),
    JsonPart("stems.json", "stems", lambda v: {str(k): str(s) for k, s in v.items()}),
)
PASSAGES = "passages.jsonl"
PASSAGE_ARTICLE = "passage_article.npy"
FIELD_FILES = tuple(f"{f}.{a}.npy" for f in FIELDS for a in ARRAYS)
ARTICLE_DF_FILES = tuple(f"{f}.article_df.npy" for f in PASSAGE_FIELDS)
DATA_FILES = (PASSAGES, *(part.file for part in JSON_PARTS), PASSAGE_ARTICLE, *FIELD_FILES, *ARTICLE_DF_FILES)
VECTORS = "vectors.npy"  # optional
PASSAGE_CACHE = 10_000


class StoredPassages(Sequence[Passage]):
    """The passages of a build, decoded from its passages.jsonl one line at a time when asked for.

    A question needs a handful of passages; decoding all of them at start-up took most of a cold
    start at 100k passages.
    """

    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        ends = np.flatnonzero(np.frombuffer(blob, dtype=np.uint8) == ord("\n"))
        self.starts = (
            np.concatenate(([0], ends[:-1] + 1)).astype(np.int64) if len(ends) else np.zeros(0, dtype=np.int64)
        )
        self.ends = ends.astype(np.int64)
        self._cache: dict[int, Passage] = {}

    def __len__(self) -> int:
        return len(self.ends)

    @overload
    def __getitem__(self, i: int) -> Passage: ...

    @overload
    def __getitem__(self, i: slice) -> list[Passage]: ...

    def __getitem__(self, i: int | slice) -> Passage | list[Passage]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        passage = self._cache.get(i)
        if passage is None:
            line = self.blob[int(self.starts[i]) : int(self.ends[i])]
            try:
                passage = passage_from_json(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexCorruptError(f"passage {i} of the index is unreadable ({exc})") from None
            if len(self._cache) >= PASSAGE_CACHE:
                self._cache.clear()
            self._cache[i] = passage
        return passage

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]


class ArticleRecord(TypedDict):
    """What the manifest records of one article."""

    name: str
    title: str
    sha256: str
    bytes: int
    mtime_ns: int
    passages: int
    sections: list[str]


class CorpusRecord(TypedDict):
    fingerprint: str  # the articles' contents and everything else a build depends on (bot.builder)
    articles: list[ArticleRecord]


class Manifest(TypedDict, total=False):
    """manifest.json: what a build is, what it was made from, and the checksum of each of its files."""

    format: str
    format_version: int
    build_id: str
    built_at: str
    bm25: dict[str, Any]
    pipeline: str
    pipeline_code_sha256: str
    synonyms_sha256: str
    corpus: CorpusRecord
    corpus_dir: str
    counts: dict[str, int]  # articles, passages
    previous_build_dir: str
    encoder: str  # the model of the passage vectors, "" when the build has none
    encoder_problem: str  # why there are no passage vectors, when the model could not be used
    vectors: str  # "ready", "pending" (a words-first build; bot.vector_build adds them) or "none"
    build_seconds: float
    build_dir: str  # written by write_index
    sha256: dict[str, str]  # file name -> SHA-256, written by write_index


@dataclass(kw_only=True)
class SearchIndex:
    """A loaded index: passages, the term list, every field's arrays and the spelling vocabulary."""

    manifest: Manifest
    passages: Sequence[Passage]
    terms: list[str]
    fields: dict[str, FieldArrays]
    passage_article: np.ndarray
    vocabulary: dict[str, int]
    families: dict[str, list[str]]
    synonym_rules: list[str]  # the synonym rule files as they were when the index was built
    article_df: dict[str, np.ndarray]  # per passage field and posting: passages of its article holding the term
    acronyms: dict[str, tuple[str, ...]] = field(default_factory=dict)  # acronym stem -> long-form stems (bot.acronyms)
    related: dict[str, tuple[str, ...]] = field(default_factory=dict)  # word -> stems of its WordNet synonyms
    stems: dict[str, str] = field(default_factory=dict)  # every word of the articles and synonym rules -> its stem
    vectors: np.ndarray | None = None
    """The passages' sentence vectors as one C-contiguous float32 matrix (row = passage id, DIMENSIONS columns,
    unit length), or None while a words-first build waits for them or when the build has none (bot.vectors)."""

    @property
    def build_id(self) -> str:
        return str(self.manifest.get("build_id", ""))

    def title_terms(self) -> set[str]:
        """Terms of any section or article title."""
        held = np.zeros(len(self.terms), dtype=bool)
        for name in ("heading", "title"):
            held |= self.fields[name].document_frequency() > 0
        return {self.terms[i] for i in np.flatnonzero(held)}

    def articles(self) -> list[ArticleRecord]:
        """The manifest's article entries (name, title, sections, passages...)."""
        return list(self.manifest.get("corpus", {}).get("articles", []))


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Stored float16 vectors as the contiguous float32 unit rows a question is scored against."""
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, np.maximum(norms, 1e-12), out=matrix)
    return matrix


def new_build_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def passage_to_json(p: Passage) -> dict[str, Any]:
    return {
        "article": p.article,
        "source": p.source,
        "section": p.section,
        "subsection": p.subsection,
        "text": p.text,
        "position": p.position,
        "sentences": [list(span) for span in p.sentences],
    }


def passage_from_json(d: dict[str, Any]) -> Passage:
    return Passage(
        str(d["article"]),
        str(d["source"]),
        str(d["section"]),
        str(d["subsection"]),
        str(d["text"]),
        int(d["position"]),
        tuple((int(a), int(b)) for a, b in d.get("sentences", ())),
    )


COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one encoder, not one per json.dumps


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def index_files(index: SearchIndex) -> dict[str, bytes]:
    """Every file of a build, by name, as bytes."""
    contents: dict[str, bytes] = {
        PASSAGES: "".join(COMPACT_JSON.encode(passage_to_json(p)) + "\n" for p in index.passages).encode("utf-8")
    }
    for part in JSON_PARTS:
        contents[part.file] = COMPACT_JSON.encode(getattr(index, part.attribute)).encode("utf-8")
    contents[PASSAGE_ARTICLE] = npy_bytes(index.passage_article)
    for field_name, arrays in index.fields.items():
        for array_name, array in arrays.arrays().items():
            contents[f"{field_name}.{array_name}.npy"] = npy_bytes(array)
    for field_name, array in index.article_df.items():
        contents[f"{field_name}.article_df.npy"] = npy_bytes(array)
    if index.vectors is not None:
        contents[VECTORS] = npy_bytes(index.vectors.astype(np.float16))  # half the disk; exact enough for cosines
    return contents


def write_index(index_dir: Path, manifest: Manifest, index: SearchIndex) -> Manifest:
    """Write a complete build and atomically make it current; return the manifest written."""
    return write_build(index_dir, manifest, index_files(index), {})


def write_build(index_dir: Path, manifest: Manifest, contents: dict[str, bytes], copies: dict[str, Path]) -> Manifest:
    """Write a build folder (new files from `contents`, copies of the files in `copies`), then swap it in."""
    index_dir.mkdir(parents=True, exist_ok=True)
    build_id = str(manifest["build_id"])
    build_dir = index_dir / f"build-{build_id}"
    tmp_dir = index_dir / f".tmp-{build_id}"
    tmp_dir.mkdir()
    try:
        checksums = {name: manifest.get("sha256", {})[name] for name in copies}
        for name, source in copies.items():
            shutil.copyfile(source, tmp_dir / name)  # not a hard link: damage to one build must not reach the other
            with open(tmp_dir / name, "rb+") as handle:
                os.fsync(handle.fileno())
        for name, data in contents.items():
            write_synced(tmp_dir / name, data)
            checksums[name] = hashlib.sha256(data).hexdigest()
        manifest = {**manifest, "build_dir": build_dir.name, "sha256": checksums}
        text = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        write_synced(tmp_dir / MANIFEST, text)  # the build's own copy
        fsync_dir(tmp_dir)
        os.replace(tmp_dir, build_dir)
        write_synced(index_dir / f".{MANIFEST}.{build_id}", text)
        os.replace(index_dir / f".{MANIFEST}.{build_id}", index_dir / MANIFEST)
        fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    remove_old_builds(index_dir, keep={build_dir.name, str(manifest.get("previous_build_dir", ""))})
    return manifest


def write_vectors_build(
    index_dir: Path, words: Manifest, vectors: np.ndarray | None, problem: str = ""
) -> Manifest | None:
    """Swap in the words-first build `words` again, now with its passage vectors (or, with None, with why
    it has none); its other files are copied. None, writing nothing, when another build is current now."""
    from bot.encoder import MODEL_ID

    with build_lock(index_dir):
        try:
            if read_manifest(index_dir).get("build_id") != words.get("build_id"):
                return None
        except IndexStoreError:
            return None
        manifest: Manifest = {
            **words,
            "build_id": new_build_id(),
            "previous_build_dir": str(words.get("build_dir", "")),
            "vectors": "ready" if vectors is not None else "none",
            "encoder": MODEL_ID if vectors is not None else "",
        }
        if problem:
            manifest["encoder_problem"] = problem
        source = index_dir / str(words.get("build_dir", ""))
        copies = {name: source / name for name in words.get("sha256", {}) if name != VECTORS}
        contents = {VECTORS: npy_bytes(vectors.astype(np.float16))} if vectors is not None else {}
        return write_build(index_dir, manifest, contents, copies)


@contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Serialise the writers of one index directory (builds, the vector encoder's swap) across processes."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def remove_old_builds(index_dir: Path, keep: set[str]) -> None:
    """Delete build folders other than the current and previous one."""
    for child in index_dir.iterdir():
        if child.is_dir() and child.name.startswith("build-") and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def remove_temporaries(index_dir: Path) -> int:
    """Delete what builds that died (kill -9) left behind; only call it holding the build lock."""
    removed = 0
    try:
        children = list(index_dir.iterdir())
    except OSError:
        return 0
    for child in children:
        if child.name.startswith(".tmp-") or child.name.startswith(f".{MANIFEST}."):
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
            removed += 1
    return removed


def read_manifest(index_dir: Path) -> Manifest:
    """Read and check the manifest; raise IndexMissingError or IndexCorruptError."""
    path = index_dir / MANIFEST
    if not path.is_file():
        raise IndexMissingError(f"no index in {index_dir}", index_dir=index_dir)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"index manifest {path} is unreadable ({exc})", index_dir=index_dir) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexCorruptError(f"{path} is not a {FORMAT} index manifest", index_dir=index_dir)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexCorruptError(
            f"index format version {manifest.get('format_version')} is not supported (expected {FORMAT_VERSION})",
            index_dir=index_dir,
        )
    problem = manifest_problem(manifest)
    if problem:
        raise IndexCorruptError(f"{path} is damaged ({problem})", index_dir=index_dir)
    return cast(Manifest, manifest)


ARTICLE_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "title": str,
    "sha256": str,
    "bytes": int,
    "mtime_ns": int,
    "passages": int,
    "sections": list,
}


def manifest_problem(manifest: Mapping[str, Any]) -> str | None:
    """What is wrong with a manifest that parsed as JSON, or None: a hand-edited one must not crash a command."""
    corpus = manifest.get("corpus")
    if not isinstance(corpus, dict) or not isinstance(corpus.get("articles"), list):
        return "its corpus entry is not an object with a list of articles"
    for entry in corpus["articles"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            return "an article entry has no name"
        for key, kind in ARTICLE_FIELDS.items():
            if key in entry and (not isinstance(entry[key], kind) or isinstance(entry[key], bool)):
                return f"article {entry['name']!r} has a {key} that is not a {getattr(kind, '__name__', kind)}"
    counts = manifest.get("counts", {})
    if not isinstance(counts, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in counts.values()):
        return "its counts are not whole numbers"
    checksums = manifest.get("sha256", {})
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        return "its checksums are not text"
    return None


def recorded_corpus(index_dir: Path) -> Path | None:
    """The corpus folder the index in index_dir was built from, if its manifest says.

    It is returned even when the folder has gone: the index is then served as it is, with a
    message that its corpus is missing, never rebuilt from another corpus (which would replace it).
    """
    try:
        value = read_manifest(index_dir).get("corpus_dir")
    except IndexStoreError:
        return None
    return Path(value) if isinstance(value, str) and value else None


def read_index(index_dir: Path) -> SearchIndex:
    """Load the current index, verifying every file against the manifest's checksums."""
    manifest = read_manifest(index_dir)
    try:
        build_dir = index_dir / str(manifest["build_dir"])
    except KeyError:
        raise IndexCorruptError(f"index manifest in {index_dir} names no build") from None
    return read_build(build_dir, manifest)


def read_previous_build(index_dir: Path) -> SearchIndex:
    """The build before the current one, checked against its own copy of the manifest."""
    try:
        name = str(json.loads((index_dir / MANIFEST).read_text(encoding="utf-8")).get("previous_build_dir", ""))
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        name = ""
    candidates = [index_dir / name] if name else sorted(index_dir.glob("build-*"), reverse=True)
    problems = []
    for build_dir in candidates:
        try:
            manifest = json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
            if isinstance(manifest, dict) and manifest.get("format_version") == FORMAT_VERSION:
                return read_build(build_dir, cast(Manifest, manifest))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{build_dir.name}: {exc}")
        except IndexCorruptError as exc:
            problems.append(exc.problem)
    raise IndexCorruptError(
        f"no earlier build in {index_dir} can be served either ({'; '.join(problems) or 'none found'})"
    )


def read_build(build_dir: Path, manifest: Manifest) -> SearchIndex:
    """Load one build folder, verifying every file against the manifest's checksums."""
    index_dir = build_dir.parent
    problem = manifest_problem(manifest)
    if problem:
        raise IndexCorruptError(f"the manifest of {build_dir} is damaged ({problem})", index_dir=index_dir)
    try:
        names = DATA_FILES + ((VECTORS,) if VECTORS in manifest["sha256"] else ())
        blobs = {name: (build_dir / name).read_bytes() for name in names}
        for name, data in blobs.items():
            if hashlib.sha256(data).hexdigest() != manifest["sha256"][name]:
                raise IndexCorruptError(f"index file {build_dir / name} fails its checksum", index_dir=index_dir)
        parts: dict[str, Any] = {part.attribute: part.decode(json.loads(blobs[part.file])) for part in JSON_PARTS}
        passages = StoredPassages(blobs[PASSAGES])
        passage_article = load_npy(blobs[PASSAGE_ARTICLE])
        fields = {f: FieldArrays(*(load_npy(blobs[f"{f}.{a}.npy"]) for a in ARRAYS)) for f in FIELDS}
        article_df = {f: load_npy(blobs[f"{f}.article_df.npy"]) for f in PASSAGE_FIELDS}
        stored_vectors = load_npy(blobs.pop(VECTORS)) if VECTORS in blobs else None
    except IndexCorruptError:
        raise
    except FileNotFoundError as exc:
        raise IndexCorruptError(f"index file missing: {exc.filename}", index_dir=index_dir) from None
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IndexCorruptError(
            f"index in {index_dir} is corrupt ({type(exc).__name__}: {exc})", index_dir=index_dir
        ) from None
    n_articles = len(manifest.get("corpus", {}).get("articles", []))
    consistent = (
        len(passages) == len(passage_article) == fields["body"].size == fields["heading"].size
        and fields["title"].size == n_articles
    )
    consistent = consistent and all(len(article_df[f]) == len(fields[f].docs) for f in PASSAGE_FIELDS)
    consistent = consistent and (
        stored_vectors is None
        or (stored_vectors.shape == (len(passages), DIMENSIONS) and stored_vectors.dtype == np.float16)
    )
    if not consistent or any(f.indptr.shape[0] != len(parts["terms"]) + 1 for f in fields.values()):
        raise IndexCorruptError(f"index in {index_dir} is inconsistent (array sizes differ)", index_dir=index_dir)
    return SearchIndex(
        manifest=manifest,
        passages=passages,
        fields=fields,
        passage_article=passage_article,
        article_df=article_df,
        vectors=None if stored_vectors is None else unit_rows(stored_vectors),
        **parts,
    )


def load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)
