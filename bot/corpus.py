"""Find the article files of a corpus directory (and what is skipped), read them within limits, fingerprint them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

from bot.errors import ArticleError, CorpusError
from bot.readers import UNSUPPORTED_TYPE, has_reader

SYNONYMS_FILE_NAME = "synonyms.conf"  # the corpus's own synonyms live beside the articles; not an article


class CorpusListing(NamedTuple):
    """The article files directly in a corpus folder, and every other entry with why it was skipped."""

    paths: list[Path]
    skipped: list[tuple[str, str]]  # (printable name, reason)


def article_paths(corpus_dir: Path) -> list[Path]:
    """The article files directly in corpus_dir, sorted by name."""
    return list_corpus(corpus_dir).paths


def list_corpus(corpus_dir: Path) -> CorpusListing:
    """Sort the entries of corpus_dir into articles and skipped files, both by name.

    Hidden files and the synonyms file are passed over silently; anything else that is not an
    article (other file types, folders, links that are broken or lead outside the folder, names
    that are not UTF-8) is listed as skipped, with the reason."""
    try:
        with os.scandir(corpus_dir) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except FileNotFoundError:
        raise CorpusError(f"corpus directory not found: {printable(str(corpus_dir))}") from None
    except NotADirectoryError:
        raise CorpusError(f"corpus directory not found: {printable(str(corpus_dir))} is not a folder") from None
    except OSError as exc:
        raise CorpusError(
            f"cannot list the corpus directory {printable(str(corpus_dir))}: {exc.strerror or exc}"
        ) from None
    root = corpus_dir.resolve()
    listing = CorpusListing([], [])
    for entry in entries:
        if entry.name.startswith(".") or entry.name == SYNONYMS_FILE_NAME:
            continue
        reason = skip_reason(entry, root)
        if reason:
            listing.skipped.append((printable(entry.name), reason))
        else:
            listing.paths.append(corpus_dir / entry.name)
    return listing


def describe_skipped(skipped: list[tuple[str, str]], max_names: int = 5) -> str:
    """The skipped entries grouped by reason, each group naming at most `max_names` entries:
    'a.pdf, b.pdf and 7 more (unsupported file type; ...); drafts (a folder; ...)'."""
    groups: dict[str, list[str]] = {}
    for name, reason in skipped:
        groups.setdefault(reason, []).append(name)
    parts = []
    for reason, names in groups.items():
        shown = ", ".join(names[:max_names]) + (f" and {len(names) - max_names} more" if len(names) > max_names else "")
        parts.append(f"{shown} ({reason})")
    return "; ".join(parts)


def skip_reason(entry: os.DirEntry[str], root: Path) -> str:
    """Why the corpus entry is not an article ('' when it is one); uses the directory scan's cached file types."""
    if not utf8_name(entry.name):
        return "the file name is not valid UTF-8; rename the file"
    if entry.is_symlink():
        path = Path(entry.path)
        if not path.exists():
            return "a broken link (what it points to does not exist)"
        if not path.resolve().is_relative_to(root):
            return "a link to something outside the corpus folder"
    if entry.is_dir():
        return "a folder; only files directly in the corpus folder are read"
    if not entry.is_file():
        return "not a regular file"
    if not has_reader(entry.name):
        return UNSUPPORTED_TYPE
    return ""


def utf8_name(name: str) -> bool:
    """False for a name read from disk whose bytes are not UTF-8 (Python holds them as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(name: str) -> str:
    """A file name safe to print and store: undecodable bytes shown as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a file, refusing it before reading when it is over the size limit."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ArticleError.too_large(path.name, size, max_bytes)
        return path.read_bytes()
    except OSError as exc:
        raise ArticleError(path.name, f"cannot read file ({exc.strerror or exc})") from None


def corpus_fingerprint(file_digests: dict[str, str], extra: str) -> str:
    """A digest of the article names and contents plus anything else the index depends on."""
    digest = hashlib.sha256(extra.encode("utf-8"))
    for name in sorted(file_digests):
        digest.update(f"\0{name}\0{file_digests[name]}".encode())
    return digest.hexdigest()


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's contents, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def current_digests(
    corpus_dir: Path, known: dict[str, tuple[int, int, str]] | None = None, max_bytes: int | None = None
) -> dict[str, str]:
    """sha256 of every article file now in corpus_dir (no parsing).

    `known` maps a name to (size, mtime_ns, sha256) as recorded at the last build: a file whose
    size and modification time are unchanged is not read again (as git's index does). A file over
    `max_bytes` is not read at all (a build refuses it anyway): its size and time stand for it.
    """
    digests = {}
    for path in article_paths(corpus_dir):
        try:
            recorded = (known or {}).get(path.name)
            st = path.stat()
            if recorded is not None and (st.st_size, st.st_mtime_ns) == recorded[:2]:
                digests[path.name] = recorded[2]
                continue
            if max_bytes is not None and st.st_size > max_bytes:
                digests[path.name] = f"over-limit:{st.st_size}:{st.st_mtime_ns}"
                continue
            digests[path.name] = file_sha256(path)
        except OSError as exc:
            raise CorpusError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return digests
