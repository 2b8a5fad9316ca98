"""Stage 5: the answer sentence, the line of a passage that answers (💡 on Telegram, `answer` in --json)."""

from __future__ import annotations

import logging

import numpy as np

from bot.encoder import SentenceEncoder
from bot.models import Passage
from bot.ranking.coverage import QuestionCoverage
from bot.text import sentence_stems, split_sentences

log = logging.getLogger(__name__)

ANSWER_CANDIDATES = 2  # tied answer sentences the sentence model chooses between (the first ones; 4 did no better)
SENTENCE_TOKENS = 128  # word pieces of a sentence the model reads for that choice (32 chose the same; 16 worse ones)
TIE = 1e-9  # shares this close are equal


def passage_sentences(passage: Passage) -> tuple[str, ...]:
    """A passage's sentences (or list items), from the spans its build stored, or split now when it has none."""
    if passage.sentences:
        return tuple(passage.text[start:end] for start, end in passage.sentences)
    return tuple(split_sentences(passage.text))


def sentence_shares(sentences: tuple[str, ...], coverage: QuestionCoverage) -> list[tuple[str, float]]:
    """Each sentence (or list item) with the share of the question it holds."""
    return [(sentence, coverage.of_sentence(present)) for sentence, present in sentence_stems(sentences)]


def answer_sentence(
    sentences: tuple[str, ...],
    coverage: QuestionCoverage,
    asked: np.ndarray | None = None,
    encoder: SentenceEncoder | None = None,
) -> str:
    """The sentence (or list item) of a passage that answers: the one holding the most of the question.

    When several hold the same most (a dosage list whose K2 and D3 lines both say "dose") and the
    question's vector is given (for the first result), the sentence model breaks the tie between
    the first ANSWER_CANDIDATES of them: "k2 dose" is answered by the K2 line, not by the D3 line
    above it. Without a tie the words decide alone, and the model is not run.
    """
    scored = sentence_shares(sentences, coverage)
    if not scored:
        return ""
    top = max(value for _, value in scored)
    tied = [i for i, (_, value) in enumerate(scored) if value >= top - TIE][:ANSWER_CANDIDATES]
    best = tied[0]
    if asked is not None and encoder is not None and len(tied) > 1:
        try:
            vectors = encoder.encode([scored[i][0] for i in tied], SENTENCE_TOKENS)
        except Exception as exc:  # onnxruntime's own error types: the first of the tied stands
            log.warning("answer sentence by words alone, the sentence model failed: %s", exc)
        else:
            best = tied[int(np.argmax(vectors @ asked))]
    return scored[best][0].lstrip("• ").strip()
