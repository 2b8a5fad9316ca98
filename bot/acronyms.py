"""Acronyms the articles define ("normal pressure hydrocephalus (NPH)"), found as Schwartz and Hearst do."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from bot.text import stopwords, terms

# "(NPH)", "(DVT)", "(NSAIDs)": 2 to 10 letters or digits, starting with a letter, at least two capitals
SHORT_FORM = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9\-]{1,9})\s*[);,]")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'\-]*")


def is_short_form(candidate: str) -> bool:
    return sum(ch.isupper() for ch in candidate) >= 2 and any(ch.isalpha() for ch in candidate)


def long_form(short: str, before: str) -> str | None:
    """The words before "(short)" that spell it: each letter of `short`, last to first, found in them.

    Schwartz and Hearst (2003): the first letter of the short form must start a word, the long
    form spans at most min(len + 5, 2 * len) words and no more words than it needs.
    """
    letters = [ch.lower() for ch in short if ch.isalnum()]
    if short.endswith("s") and len(letters) > 2 and short[:-1].isupper():
        letters = letters[:-1]  # "NSAIDs": the plural s is not a letter of the long form
    words = WORD.findall(before)[-min(len(letters) + 5, 2 * len(letters)) :]
    if not words:
        return None
    text = " ".join(words).lower()
    s, t = len(letters) - 1, len(text) - 1
    while s >= 0:
        ch = letters[s]
        while t >= 0 and (text[t] != ch or (s == 0 and t > 0 and text[t - 1].isalnum())):
            t -= 1
        if t < 0:
            return None
        s -= 1
        t -= 1
    start = text.rfind(" ", 0, t + 1) + 1
    found = text[start:]
    words_used = found.split()
    if len(words_used) < 2 or len(words_used) > len(letters) + 2 or words_used[0] in stopwords():
        return None
    return found


def defined_acronyms(texts: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Acronym stem -> the stems of the long form the articles most often give for it."""
    seen: dict[str, Counter[tuple[str, ...]]] = defaultdict(Counter)
    for text in texts:
        if "(" not in text:
            continue
        for match in SHORT_FORM.finditer(text):
            short = match.group(1)
            if not is_short_form(short):
                continue
            found = long_form(short, text[max(0, match.start() - 200) : match.start()])
            if found is None:
                continue
            key = terms(short)
            stems = tuple(terms(found))
            if len(key) == 1 and len(key[0]) >= 2 and 2 <= len(stems) <= len(short) + 2:
                seen[key[0]][stems] += 1
    return {short: forms.most_common(1)[0][0] for short, forms in seen.items()}
