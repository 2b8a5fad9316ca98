"""The one text pipeline that passages and questions both go through.

normalise (Unicode NFKC, lower case, unify dashes and quotes) -> tokenise (keeping
domain tokens such as ``k2``, ``mk-7`` -> ``mk7``, ``1,000-5,000`` -> ``1000-5000``, ``iu``)
-> stem (NLTK Snowball) -> mark stopwords (a shipped list; nothing is downloaded).

NLTK is imported only when it is needed: importing it costs a quarter of a second (its package
imports all of NLTK). A loaded index tells this module the stems of every word it knows
(remember_stems), and stores each passage's sentence spans, so answering a question about words
the articles use needs neither the stemmer nor the sentence splitter.
"""

from __future__ import annotations

import importlib
import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from nltk.tokenize.punkt import PunktSentenceTokenizer

DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"), "-")
QUOTES = dict.fromkeys(map(ord, "\u2018\u2019\u02bc\u2032`"), "'")
MARKS = dict.fromkeys(map(ord, "\u2122\u00ae\u00a9\u2120"), " ")  # ™ ® © ℠ (NFKC would glue "TM" to the word)

TOKEN = re.compile(
    r"""
    (?P<number>\d[\d,]*(?:\.\d+)?(?:-\d[\d,]*(?:\.\d+)?)?)(?![\w])   # 45, 1,000-5,000, 2.5
  | (?P<word>[^\W_]+(?:[-'][^\W_]+)*)                                  # k2, mk-7, grass-fed, calcium's
    """,
    re.VERBOSE,
)
CONTRACTION = re.compile(r"(n't|'s|'re|'ll|'ve|'d|'m)$")  # can't -> ca(n), it's -> it, we'll -> we
IRREGULAR_NEGATIONS = {"can't": "can", "won't": "will", "shan't": "shall"}
LETTER_DIGIT_HYPHEN = re.compile(r"^([a-z]+)-(\d+)$")  # mk-7 -> mk7, k-2 -> k2
MAX_TOKEN_CHARS = 40

KNOWN_STEMS: dict[str, str] = {}  # word -> stem(word), as a loaded index computed them (remember_stems)


class Stemmer(Protocol):
    def stem(self, word: str) -> str: ...


NLTK_IMPORT = threading.Lock()  # NLTK's package imports itself in circles: two threads importing it at once deadlock


def nltk_module(name: str) -> ModuleType:
    """An NLTK module, imported on first use by one thread at a time (every lazy NLTK import goes through here)."""
    with NLTK_IMPORT:
        return importlib.import_module(name)


@lru_cache(maxsize=1)
def snowball() -> Stemmer:
    """NLTK's Snowball English stemmer, imported on first use."""
    stemmer: Stemmer = nltk_module("nltk.stem.snowball").SnowballStemmer("english")
    return stemmer


def remember_stems(stems: Mapping[str, str]) -> None:
    """Take the stems a build computed for its words: stem() then needs NLTK only for other words."""
    KNOWN_STEMS.update(stems)


@dataclass(frozen=True)
class Token:
    """A word as written (normalised), its stem, and whether it is a stopword."""

    surface: str
    stem: str
    stop: bool
    start: int = 0
    end: int = 0


def normalise(text: str) -> str:
    """Unicode-normalise and lower-case text, unifying dashes and apostrophes."""
    return unicodedata.normalize("NFKC", text.translate(MARKS)).translate(DASHES).translate(QUOTES).lower()


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    """The shipped stopword list (bot/data/stopwords.txt)."""
    text = resources.files("bot").joinpath("data/stopwords.txt").read_text(encoding="utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("#"):
            words.update(line.split())
    return frozenset(words)


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """Stem an alphabetic word; words with digits and non-Latin words are kept as they are."""
    known = KNOWN_STEMS.get(word)
    if known is not None:
        return known
    if not word.isascii() or not word.isalpha():
        return word
    stemmed = snowball().stem(word)
    if word.endswith("sis") and stemmed.endswith("si") and len(stemmed) > 5:
        return stemmed[:-1]  # Greek -sis nouns meet their verbs: diagnosis/diagnose, paralysis/paralyse
    return stemmed


def split_word(word: str) -> list[str]:
    """Split a hyphenated or possessive word into the parts that are indexed."""
    word = IRREGULAR_NEGATIONS.get(word, CONTRACTION.sub("", word))
    joined = LETTER_DIGIT_HYPHEN.match(word)
    if joined:
        return [joined.group(1) + joined.group(2)]
    if "-" in word or "'" in word:
        return [part for part in re.split(r"[-']", word) if part]
    return [word]


def split_number(number: str) -> list[str]:
    """'1,000-5,000' -> ['1000-5000', '1000', '5000']; '45' -> ['45']."""
    plain = number.replace(",", "")
    if "-" in plain:
        low, high = plain.split("-", 1)
        return [plain, low, high]
    return [plain]


def tokenize(text: str) -> list[Token]:
    """Normalise and tokenise text into Tokens, keeping character offsets into the normalised text."""
    text = normalise(text)
    stops = stopwords()
    tokens: list[Token] = []
    for match in TOKEN.finditer(text):
        raw = match.group(0)
        if len(raw) > MAX_TOKEN_CHARS:
            continue
        parts = split_number(raw) if match.group("number") else split_word(raw)
        for part in parts:
            tokens.append(Token(part, stem(part), part in stops, match.start(), match.end()))
    return tokens


def words(text: str) -> list[tuple[str, str, bool]]:
    """(surface, stem, stop) of every token: what tokenize gives, without offsets, and faster."""
    result: list[tuple[str, str, bool]] = []
    for number, word in TOKEN.findall(normalise(text)):
        result.extend(token_parts(number, True) if number else token_parts(word, False))
    return result


@lru_cache(maxsize=200_000)
def token_parts(raw: str, is_number: bool) -> tuple[tuple[str, str, bool], ...]:
    """(surface, stem, stop) of the indexed parts of one matched token."""
    if len(raw) > MAX_TOKEN_CHARS:
        return ()
    stops = stopwords()
    parts = split_number(raw) if is_number else split_word(raw)
    return tuple((part, stem(part), part in stops) for part in parts)


def terms(text: str) -> list[str]:
    """The indexed terms of a text: stems of its non-stopword tokens."""
    return [word_stem for _, word_stem, stop in words(text) if not stop]


@lru_cache(maxsize=1)
def sentence_splitter() -> PunktSentenceTokenizer:
    """NLTK's Punkt splitter with common abbreviations; it needs no downloaded model (imported on first use)."""
    punkt = nltk_module("nltk.tokenize.punkt")
    params = punkt.PunktParameters()
    params.abbrev_types = {"e.g", "i.e", "etc", "vs", "dr", "mr", "mrs", "ms", "approx", "fig", "no", "st", "mt", "u.s"}
    splitter: PunktSentenceTokenizer = punkt.PunktSentenceTokenizer(params)
    return splitter


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences; each line of a multi-line text (a list) is its own unit."""
    sentences: list[str] = []
    for line in text.splitlines():
        if line.strip():
            sentences.extend(s.strip() for s in sentence_splitter().tokenize(line) if s.strip())
    return sentences


def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Where split_sentences' sentences are in `text`: (start, end) offsets, for storing with a passage."""
    spans: list[tuple[int, int]] = []
    at = 0
    for sentence in split_sentences(text):
        start = text.find(sentence, at)
        if start < 0:  # not found as written (cannot happen for a stripped piece of a line): split again when read
            return ()
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return tuple(spans)


@lru_cache(maxsize=4096)
def sentence_stems(sentences: tuple[str, ...]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each sentence with the stems of its non-stopwords (cached: a passage is often shown again)."""
    return tuple((sentence, frozenset(stem for _, stem, stop in words(sentence) if not stop)) for sentence in sentences)


def word_spans(text: str, stems: set[str]) -> list[tuple[int, int]]:
    """Character spans of the words in `text` whose stem is in `stems` (for highlighting)."""
    if not stems:
        return []
    spans: list[tuple[int, int]] = []
    offsets = normalised_offsets(text)
    for token in tokenize(text):
        if token.stem in stems and not token.stop:
            span = (offsets[token.start], offsets[token.end])
            if not spans or spans[-1] != span:
                spans.append(span)
    return spans


def normalised_offsets(text: str) -> list[int]:
    """Map offsets in normalise(text) back to offsets in text (same length for most text)."""
    normalised = normalise(text)
    if len(normalised) == len(text):
        return list(range(len(text) + 1))
    mapping: list[int] = []
    for i, ch in enumerate(text):
        mapping.extend([i] * len(normalise(ch)))
    mapping.append(len(text))
    if len(mapping) != len(normalised) + 1:  # normalisation merged characters: no safe mapping
        return [min(i, len(text)) for i in range(len(normalised) + 1)]
    return mapping
