"""Does a passage define a term? The surface patterns of definitional question answering.

"what is osteocalcin" is best answered by the sentence that says what osteocalcin *is*:
"osteocalcin, a protein that binds calcium" (an apposition), "osteoblasts (bone-building
cells)" (a gloss), "vitamin D3 (cholecalciferol) is a fat-soluble vitamin" (a copula), "a
process called bone remodeling" (a naming). Passages that merely mention the term do not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.text import normalise, tokenize

# after the term: an optional gloss in brackets, then an apposition, a copula with an article, or "refers to"
DEFINED_AFTER = re.compile(
    r"\s*(?:\([^()]{1,80}\)\s*)?"
    r"(?:,\s*(?:a|an|the|one)\s|\s(?:is|are|was|were)\s+(?:a|an|the|one|any)\s"
    r"|\s(?:refers? to|means|is defined as|is known as)\s)"
)
GLOSSED_AFTER = re.compile(r"\s*\(")  # "osteoblasts (bone-building cells)"
NAMED_BEFORE = re.compile(
    r"(?:\b(?:called|known as|termed|named)\s+(?:the\s+)?[\"']?|\(\s*)$"
)  # "a process called X", "vitamin K2 (X)"
LOOK_BEHIND = 24


def defines(text: str, phrase: Sequence[str]) -> bool:
    """Does `text` define the term whose content-word stems are `phrase` (in order)?"""
    if not phrase:
        return False
    norm = normalise(text)
    tokens = [t for t in tokenize(text) if not t.stop]
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if all(tokens[i + k].stem == phrase[k] for k in range(n)):
            start, end = tokens[i].start, tokens[i + n - 1].end
            if (
                DEFINED_AFTER.match(norm, end)
                or GLOSSED_AFTER.match(norm, end)
                or NAMED_BEFORE.search(norm, max(0, start - LOOK_BEHIND), start)
            ):
                return True
    return False
