"""Words first, meaning behind: add passage vectors to a build that answers by words alone.

A build whose articles' vectors are not all cached is written without them (its manifest says the
vectors are "pending") and answers by words at once. The vectors are then encoded here: in the
foreground (``reindex``) or in a detached, lower-priority child process (``python -m
bot.vector_build INDEX_DIR``), started by whatever opens the index. Encoded articles are stored
in the analysis cache chunk by chunk, so a process killed mid-way (a restarted bot) resumes where
it stopped. When every passage has its vector, a new build is made from the words build's files
(copies) plus ``vectors.npy`` and swapped in; the serving process reloads it as any new build.

One encoder runs per index folder (``.encode.lock``); its progress is in ``encoding.json``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bot.config import child_environment
from bot.errors import BotError, IndexStoreError

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]
MANIFEST = "manifest.json"  # bot.index_store.MANIFEST, not imported from there: that module is slow to import
LOCK = ".encode.lock"
STATUS = "encoding.json"
LOG = "encoding.log"
CHUNK_PASSAGES = 256  # passages encoded between cache commits and progress reports
PENDING = "pending"
READY = "ready"
NONE = "none"


@dataclass(frozen=True)
class VectorStatus:
    """How far the encoding of a words-only build's passage vectors has got."""

    build_id: str
    done: int
    total: int
    running: bool  # an encoder holds the lock now

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100

    def describe(self) -> str:
        """One line for people: what is happening and what it means for answers."""
        where = "being encoded in the background" if self.running else "waiting to be encoded"
        return (
            f"Passage vectors {where}: {self.done:,} of {self.total:,} passages ({self.percent}%). "
            "Answers are ranked by words until they are ready."
        )


def vectors_state(manifest: Mapping[str, object]) -> str:
    """'ready' (the build has vectors), 'pending' (they are being added) or 'none' (off or unavailable)."""
    state = manifest.get("vectors")
    if state in (PENDING, READY, NONE):
        return str(state)
    return READY if manifest.get("encoder") else NONE  # builds written before this field existed


@contextmanager
def encoder_lock(index_dir: Path, wait: bool) -> Iterator[bool]:
    """Hold the index folder's encoder lock; yields False (without it) when not waiting and it is taken."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / LOCK, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def encoder_running(index_dir: Path) -> bool:
    """Does some process hold the encoder lock of this index folder now?"""
    try:
        with encoder_lock(index_dir, wait=False) as held:
            return not held
    except OSError:
        return False


def read_status(index_dir: Path) -> dict[str, int | str]:
    try:
        data = json.loads((index_dir / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_status(index_dir: Path, build_id: str, done: int, total: int) -> None:
    tmp = index_dir / f".{STATUS}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps({"build_id": build_id, "done": done, "total": total}), encoding="utf-8")
        os.replace(tmp, index_dir / STATUS)
    except OSError as exc:
        log.debug("cannot write the encoding status: %s", exc)


def vector_status(index_dir: Path) -> VectorStatus | None:
    """The encoding progress of the current build, or None when it is not waiting for vectors."""
    from bot.index_store import read_manifest

    try:
        manifest = read_manifest(index_dir)
    except IndexStoreError:
        return None
    if vectors_state(manifest) != PENDING:
        return None
    build_id = str(manifest.get("build_id", ""))
    total = int(manifest.get("counts", {}).get("passages", 0))
    status = read_status(index_dir)
    done = int(status.get("done", 0)) if status.get("build_id") == build_id else 0
    return VectorStatus(build_id, min(done, total), total, encoder_running(index_dir))


def preload_model_for(index_dir: Path, semantic: bool, model_path: Path | None) -> None:
    """At a command's start: load the sentence model in a thread at once when the index there has vectors to use."""
    if not semantic:
        return
    try:
        manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(manifest, dict) and vectors_state(manifest) == READY:
        from bot.encoder import preload

        preload(model_path)


def start_background(index_dir: Path, model_path: Path | None) -> bool:
    """Start a detached encoder for the index folder unless one runs; True when one was started."""
    if encoder_running(index_dir):
        return False
    command = [sys.executable, "-m", "bot.vector_build", str(index_dir.resolve())]
    if model_path is not None:
        command += ["--model", str(model_path.resolve())]
    root = str(Path(__file__).resolve().parent.parent)
    try:
        with open(index_dir / LOG, "ab") as errors:
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,  # outlives `ask`, and a Ctrl-C at the terminal does not reach it
                cwd=root,
                env=child_environment(root),
            )
    except OSError as exc:
        log.warning("cannot start encoding passage vectors in the background: %s", exc)
        return False
    return True


def encode_pending(index_dir: Path, model_path: Path | None, progress: Progress | None = None) -> bool:
    """Encode the current build's missing passage vectors and swap in the build with them.

    Waits for an encoder already running in another process (reporting its progress), then
    does what is left. Returns True when the build that is current at the end has its vectors
    (or never needed any), False when the sentence model cannot be used.
    """
    while True:
        status = vector_status(index_dir)
        if status is None:
            return True
        with encoder_lock(index_dir, wait=False) as held:
            if held:
                return encode_locked(index_dir, model_path, progress)
        if progress:
            progress(status.done, status.total, "encoding")
        time.sleep(0.5)


def encode_locked(index_dir: Path, model_path: Path | None, progress: Progress | None) -> bool:
    """encode_pending's work, holding the encoder lock; restarts when a newer build lands meanwhile."""
    from bot.analysis import AnalysisCache
    from bot.encoder import DIMENSIONS, EncoderUnavailable, load_encoder
    from bot.index_store import read_index, write_vectors_build
    from bot.vectors import PASSAGE_TOKENS, article_texts, article_vector_key, vectors_in_cache

    while True:
        try:
            index = read_index(index_dir)
        except IndexStoreError as exc:
            log.warning("cannot read the index to add passage vectors: %s", exc)
            return False
        manifest = index.manifest
        if vectors_state(manifest) != PENDING:
            return True
        build_id = index.build_id
        texts = article_texts(index)
        keys = [article_vector_key(t) for t in texts]
        cache = AnalysisCache(index_dir / "analysis-cache.sqlite3", "")
        try:
            found = vectors_in_cache(cache, keys, texts)
            cached_keys = set(found)
            todo = list({k: t for k, t in zip(keys, texts) if k not in found}.items())  # copies encoded once
            uses = Counter(keys)
            total = sum(len(t) for t in texts)
            done = total - sum(len(t) for k, t in zip(keys, texts) if k not in found)
            write_status(index_dir, build_id, done, total)
            if progress:
                progress(done, total, "encoding")
            if todo:
                try:
                    encoder = load_encoder(model_path)
                except EncoderUnavailable as exc:
                    log.warning("no passage vectors (answers ranked by words alone): %s", exc)
                    write_vectors_build(index_dir, manifest, None, problem=str(exc))
                    return False
            started = time.perf_counter()
            for group in chunks(todo):
                if current_build_id(index_dir) != build_id:
                    break  # a newer build landed: what was encoded is cached; start over on it
                batch = [text for _, t in group for text in t]
                try:
                    encoded = encoder.encode(batch, PASSAGE_TOKENS)
                except Exception as exc:  # onnxruntime's own error types
                    log.warning("the sentence model failed (answers ranked by words alone): %s", exc)
                    write_vectors_build(index_dir, manifest, None, problem=f"the sentence model failed: {exc}")
                    return False
                offset = 0
                for key, t in group:
                    found[key] = encoded[offset : offset + len(t)].astype(np.float16)
                    offset += len(t)
                    cache.store_vectors(key, found[key])
                cache.commit_vectors()
                done += sum(uses[key] * len(t) for key, t in group)
                write_status(index_dir, build_id, min(done, total), total)
                if progress:
                    progress(min(done, total), total, "encoding")
            else:
                parts = [found[k] for k in keys]
                vectors = np.concatenate(parts) if parts else np.zeros((0, DIMENSIONS), dtype=np.float16)
                cached = sum(1 for key in keys if key in cached_keys)
                log.info(
                    "encoded %s passages of %s article(s); %s article(s) from the cache (%.1fs)",
                    sum(len(t) for _, t in todo),
                    len(todo),
                    cached,
                    time.perf_counter() - started,
                )
                if write_vectors_build(index_dir, manifest, vectors) is not None:
                    return True
        finally:
            cache.close()


def chunks(todo: list[tuple[str, list[str]]]) -> Iterator[list[tuple[str, list[str]]]]:
    """Whole articles, grouped until a group holds CHUNK_PASSAGES passages."""
    group: list[tuple[str, list[str]]] = []
    size = 0
    for item in todo:
        group.append(item)
        size += len(item[1])
        if size >= CHUNK_PASSAGES:
            yield group
            group, size = [], 0
    if group:
        yield group


def current_build_id(index_dir: Path) -> str:
    from bot.index_store import read_manifest

    try:
        return str(read_manifest(index_dir).get("build_id", ""))
    except IndexStoreError:
        return ""


def main(argv: list[str] | None = None) -> int:
    """The background encoder: `python -m bot.vector_build INDEX_DIR [--model FILE]`."""
    parser = argparse.ArgumentParser(description="Add passage vectors to an index built by words first.")
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        os.nice(10)  # questions first: the encoder takes what the cores have left
    except OSError:
        pass
    with encoder_lock(args.index_dir, wait=False) as held:
        if not held:
            return 0  # another encoder is at it
        try:
            encode_locked(args.index_dir, args.model, None)
        except BotError as exc:
            log.warning("adding passage vectors failed: %s", exc)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
