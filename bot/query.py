"""Turn a question into weighted search concepts: rewrites, spelling, synonyms, conversation context."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from bot.config import Ranking
from bot.families import WordFamilies
from bot.indexing import PHRASE_MARK
from bot.spelling import SpellingCorrector, common_stems, english_words
from bot.synonyms import Phrase, SynonymTable
from bot.text import Token, stem, stopwords, terms, tokenize

MAX_QUESTION_CHARS = 1000
MAX_CONCEPTS = 24
FOLLOW_UP_OPENERS = (("and",), ("also",), ("what", "about"), ("how", "about"), ("what", "of"), ("but",), ("or",))
PRONOUNS = frozenset({"it", "its", "they", "them", "their", "that", "this", "those", "these", "one", "ones"})
MIN_CARRIED_WEIGHT = 0.3
# "how long", "how often"...: the word after "how" names the kind of answer, not the topic
ANSWER_TYPE_WORDS = frozenset({"long", "often", "soon", "frequently", "far", "fast", "quickly"})


@dataclass(frozen=True)
class Alternative:
    """One way to match a concept: all its stems count together, scaled by weight.

    `weight` scales both the score and the share of the concept a match covers; `per_stem`
    scales only the score: a typed phrase of n words scores the mean of its words (1/n) but
    still covers its whole concept when all its words are present.
    """

    stems: tuple[str, ...]
    weight: float
    covers: tuple[str, ...] = ()  # the words a group term stands for, to highlight them
    per_stem: float = 1.0
    related: bool = False  # a WordNet relative of the word typed: it ranks, but makes no passage an answer

    @property
    def score_weight(self) -> float:
        return self.weight * self.per_stem


@dataclass(frozen=True)
class Concept:
    """Something the question asks about, with the alternatives that express it."""

    label: str
    alternatives: tuple[Alternative, ...]
    weight: float = 1.0
    carried: bool = False

    @property
    def stems(self) -> frozenset[str]:
        return frozenset(s for alt in self.alternatives for s in alt.stems)

    @property
    def own_stems(self) -> frozenset[str]:
        """The stems of the concept's own forms, without WordNet's relatives (which may be shared by two concepts)."""
        return frozenset(s for alt in self.alternatives if not alt.related for s in alt.stems)

    def without_related(self) -> Concept:
        """The concept with its own forms only."""
        if not any(a.related for a in self.alternatives):
            return self
        return replace(self, alternatives=tuple(a for a in self.alternatives if not a.related))

    @property
    def typed(self) -> Alternative:
        """The alternative the user actually wrote (the first one)."""
        return self.alternatives[0]


@dataclass(frozen=True)
class Query:
    """The analysed question: its concepts, the corrections made and whether context was used."""

    concepts: tuple[Concept, ...]
    corrections: dict[str, str] = field(default_factory=dict)
    follow_up: bool = False
    asks_definition: bool = False  # "what is X", "define X", "tell me about X"
    defined_term: tuple[str, ...] = ()  # X's stems when X is one term: content words only, no "of" inside
    question: str = ""  # the question as typed (clipped), for ranking by meaning

    @property
    def meaning_text(self) -> str:
        """What ranking by meaning reads: the question as typed, then a follow-up's carried topic."""
        carried = " ".join(c.label for c in self.concepts if c.carried)
        return f"{self.question} {carried}".strip() if self.follow_up else self.question

    @property
    def text(self) -> str:
        """What was actually searched, as words: the question's concepts, then carried context."""
        return " ".join(c.label for c in self.concepts)

    def own_concepts(self) -> tuple[Concept, ...]:
        return tuple(c for c in self.concepts if not c.carried)


class QueryAnalyzer:
    """Applies the shared text pipeline plus query-side steps, configured by Ranking."""

    def __init__(
        self,
        synonyms: SynonymTable,
        speller: SpellingCorrector | None,
        known_stems: set[str],
        title_stems: set[str],
        ranking: Ranking,
        families: WordFamilies | None = None,
        acronyms: dict[str, tuple[str, ...]] | None = None,
        related: dict[str, tuple[str, ...]] | None = None,
        section_titles: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.synonyms = synonyms
        self.section_titles = section_titles
        self._substitutes: dict[str, frozenset[str]] | None = None
        self.acronyms = acronyms or {}
        self.related = related or {}
        self.families = families
        self.speller = speller
        self.known_stems = known_stems
        self.heading_stems = title_stems
        self._topic_stems: frozenset[str] | None = None
        self.ranking = ranking

    def analyse(self, question: str, previous: tuple[Concept, ...] = ()) -> Query:
        """Analyse `question`; `previous` holds the concepts of the conversation's last turn."""
        question = clip_question(question)
        tokens = tokenize(question)
        if self.ranking.use_synonyms:
            tokens = self.apply_rewrites(tokens)  # "info" is "information" before the question words are marked
        tokens = mark_question_words(tokens)
        corrections: dict[str, str] = {}
        if self.ranking.use_spelling and self.speller is not None:
            tokens = [fixed for t in tokens for fixed in self.correct(t, corrections)]
            if corrections:  # "hwo long" is "how long" only once "hwo" is read
                tokens = mark_question_words(tokens)
        concepts = self.concepts(tokens[definition_opener_length(tokens) :])[:MAX_CONCEPTS]
        if len(concepts) > self.ranking.related_max_concepts:  # a long message is redundant enough
            concepts = [c.without_related() for c in concepts]
        term = defined_term(tokens)  # "what is X" names its own topic: never a follow-up
        follow_up = (
            bool(previous)
            and self.ranking.use_context
            and not term
            and is_follow_up(tokens, concepts, self.topic_stems)
        )
        if follow_up:
            concepts = concepts + carry_over(previous, concepts, self.ranking.context_weight, self.substitutes)
        return Query(tuple(concepts), corrections, follow_up, asks_definition(tokens), term, question)

    @property
    def substitutes(self) -> dict[str, frozenset[str]]:
        """title_substitutes of the index's section titles, read on the first follow-up (it reads every passage)."""
        if self._substitutes is None:
            self._substitutes = title_substitutes(self.section_titles()) if self.section_titles else {}
        return self._substitutes

    @property
    def topic_stems(self) -> frozenset[str]:
        """Words of some heading or title that name a topic: "take" in "How Much Should You Take" does not.

        Computed on the first follow-up check, so a process that answers one question does not
        load the English word frequencies.
        """
        if self._topic_stems is None:
            self._topic_stems = frozenset(self.heading_stems) - common_stems()
        return self._topic_stems

    def apply_rewrites(self, tokens: list[Token]) -> list[Token]:
        """Replace abbreviations ("vit" => "vitamin") by their full form."""
        result: list[Token] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self.synonyms.longest, len(tokens) - i), 0, -1):
                phrase = tuple(t.stem for t in tokens[i : i + n])
                if phrase in self.synonyms.rewrites:
                    result.extend(tokenize(self.synonyms.rewrites[phrase]))
                    i += n
                    break
            else:
                result.append(tokens[i])
                i += 1
        return result

    def knows(self, token: Token) -> bool:
        return token.stem in self.known_stems or (self.speller is not None and self.speller.knows(token.surface))

    def correct(self, token: Token, corrections: dict[str, str]) -> list[Token]:
        """Replace an unknown word with the closest known one (or two), if close enough."""
        if token.stop or self.knows(token) or self.speller is None:
            return [token]
        fixed = self.speller.correct(token.surface)
        if not fixed:
            return [token]
        if " " in fixed and self.families is not None and self.families.relatives(token.surface, token.stem):
            return [token]  # "asthmatics" is kin to "asthma", not "asthma tics": its word family finds it
        corrections[token.surface] = fixed
        stops = stopwords()
        return [Token(word, stem(word), word in stops, token.start, token.end) for word in fixed.split()]

    def concepts(self, tokens: list[Token]) -> list[Concept]:
        """Group tokens into concepts, matching the longest synonym phrase first."""
        concepts: list[Concept] = []
        seen: set[frozenset[str]] = set()
        i = 0
        while i < len(tokens):
            concept, used = self.concept_at(tokens, i)
            i += used
            if concept is not None and concept.own_stems and concept.own_stems not in seen:
                seen.add(concept.own_stems)
                concepts.append(concept)
        return concepts

    def concept_at(self, tokens: list[Token], i: int) -> tuple[Concept | None, int]:
        if self.ranking.use_synonyms:
            for n in range(min(self.synonyms.longest, len(tokens) - i), 0, -1):
                phrase: Phrase = tuple(t.stem for t in tokens[i : i + n])
                if phrase in self.synonyms.groups and (n > 1 or not tokens[i].stop or len(phrase[0]) > 2):
                    return self.synonym_concept(tokens[i : i + n]), n
        named = self.title_phrase(tokens, i)
        if named is not None:
            return named, 2
        token = tokens[i]
        if token.stop:
            return None, 1
        joined = self.joined_compound(tokens, i)
        if joined is not None:
            return joined, 2
        alternatives = [Alternative((token.stem,), 1.0)]
        known = token.stem in self.known_stems
        family_weight = self.ranking.known_family_weight if known else self.ranking.family_weight
        if self.families is not None and family_weight > 0:
            for relative in self.families.relatives(token.surface, token.stem):
                if relative in self.known_stems:
                    alternatives.append(Alternative((relative,), family_weight))
        alternatives += self.related_words(token, {alt.stems for alt in alternatives})
        long_form = self.acronyms.get(token.stem)
        if (
            long_form and self.ranking.acronym_weight > 0 and token.surface not in english_words()
        ):  # "aids", "add": words first
            alternatives.append(Alternative(long_form, self.ranking.acronym_weight, per_stem=1.0 / len(long_form)))
        return Concept(token.surface, tuple(alternatives)), 1

    def related_words(self, token: Token, have: set[tuple[str, ...]]) -> list[Alternative]:
        """Index words sharing a WordNet sense with a word the index has ("important" -> "crucial"), at a low weight."""
        weight = self.ranking.related_weight
        if weight <= 0:
            return []
        return [
            Alternative((s,), weight, related=True) for s in self.related.get(token.surface, ()) if (s,) not in have
        ]

    def title_phrase(self, tokens: list[Token], i: int) -> Concept | None:
        """ "down syndrome" when an article title says "Down syndrome": the content word, or it and the title phrase.

        The stopword alone is never searched; the phrase term exists only in the titles that hold
        it (bot.indexing.title_phrases), so the articles it names score the word and the phrase,
        and other passages the word alone.
        """
        if i + 1 >= len(tokens) or tokens[i].stop == tokens[i + 1].stop:
            return None
        first, second = tokens[i], tokens[i + 1]
        phrase = f"{first.stem}{PHRASE_MARK}{second.stem}"
        if phrase not in self.known_stems:
            return None
        word = second if first.stop else first
        return Concept(
            f"{first.surface} {second.surface}", (Alternative((word.stem,), 1.0), Alternative((word.stem, phrase), 1.0))
        )

    def joined_compound(self, tokens: list[Token], i: int) -> Concept | None:
        """ "rib cage" when the index writes "ribcage": one concept, the two words typed or the joined word."""
        weight = self.ranking.compound_weight
        if weight <= 0 or i + 1 >= len(tokens) or tokens[i + 1].stop:
            return None
        first, second = tokens[i], tokens[i + 1]
        word = first.surface + second.surface
        joined = stem(word)
        if joined not in self.known_stems:
            return None
        if is_numbered_name(first.surface, second.surface):  # the number alone matches any "3 grams"
            return Concept(f"{first.surface} {second.surface}", (Alternative((joined,), 1.0),))
        if word not in english_words():
            return None
        typed = Alternative((first.stem, second.stem), 1.0, per_stem=0.5)
        return Concept(f"{first.surface} {second.surface}", (typed, Alternative((joined,), weight)))

    def synonym_concept(self, tokens: list[Token]) -> Concept:
        """A concept for a phrase from a synonym group: the words typed, or any word of the group.

        The words typed count as one concept, like the group's term does: a phrase of n words
        scores the mean of its words (per_stem 1/n), not their sum. Otherwise a passage that writes
        "vitamin D" would score twice a passage that writes "D3" for the same concept.
        """
        phrase = tuple(t.stem for t in tokens)
        typed = tuple(t.stem for t in tokens if not t.stop)
        alternatives: list[Alternative] = [Alternative(typed, 1.0, per_stem=1.0 / len(typed))] if typed else []
        weight = self.ranking.synonym_weight if typed else 1.0
        for group in self.synonyms.group_ids.get(phrase, []):
            members = tuple(sorted(self.synonyms.group_members.get(group, ())))
            alternatives.append(Alternative((group,), weight, members))
        label = " ".join(t.surface for t in tokens)
        return Concept(label, tuple(alternatives))


DEFINITION_OPENERS = (
    ("what", "is"),
    ("what", "are"),
    ("what", "was"),
    ("define",),
    ("definition",),
    ("meaning",),
    ("explain",),
    ("describe",),
    ("overview",),
    ("tell", "me", "about"),
)


# "do you have information about X", "any info on X": asking for information is asking what X is
INFORMATION_WORDS = frozenset({"information", "info", "details", "facts"})
ABOUT_WORDS = frozenset({"about", "on", "regarding", "concerning"})
REQUEST_WORDS = frozenset(
    {"please", "pls", "need", "want", "like", "looking", "give", "send", "share", "find", "get", "hi", "hello", "hey"}
)


def definition_opener(tokens: list[Token]) -> tuple[str, ...]:
    """The opener a question starts with ("what is", "define", "tell me about", "any info on"), or ()."""
    words = tuple(t.surface for t in tokens)
    return next((o for o in DEFINITION_OPENERS if words[: len(o)] == o), ()) or information_request(tokens)


def information_request(tokens: list[Token]) -> tuple[str, ...]:
    """ "do you have information about", "I need details on": request words, then "information" and "about"; or ().

    "and any info on foods?" opens with a follow-up cue: it asks about the last topic's foods,
    not what foods are, so it has no opener (its request words are still not searched).
    """
    if starts_follow_up(tokens):
        return ()
    for i in range(len(tokens) - 1):
        if is_request_phrase(tokens, i):
            return tuple(t.surface for t in tokens[: i + 2])
        if not (tokens[i].stop or tokens[i].surface in REQUEST_WORDS):
            return ()
    return ()


def is_request_phrase(tokens: list[Token], i: int) -> bool:
    """ "information about", "info on", "details regarding" at token i."""
    return i + 1 < len(tokens) and tokens[i].surface in INFORMATION_WORDS and tokens[i + 1].surface in ABOUT_WORDS


def mark_request_phrases(tokens: list[Token]) -> list[Token]:
    """Treat "info" in "any info on X" as a question word wherever it stands: it asks, it names no topic."""
    return [replace(t, stop=True) if is_request_phrase(tokens, i) else t for i, t in enumerate(tokens)]


def mark_question_words(tokens: list[Token]) -> list[Token]:
    """Mark the words that say how the question asks, not what about: "how long", "what is", "any info on"."""
    return mark_request_phrases(mark_definition_opener(mark_answer_type_words(tokens)))


def asks_definition(tokens: list[Token]) -> bool:
    """Does the question ask what something is ("what is X", "define X", "tell me about X")?"""
    return bool(definition_opener(tokens))


LEADING_ARTICLES = frozenset({"a", "an", "of"})  # "what is a T-score", "meaning of X"


def defined_term(tokens: list[Token]) -> tuple[str, ...]:
    """The stems of X in "what is X" when X is a single term ("bone remodelling", "vitamin K2").

    X must be content words only, after an optional "a", "an" or "of": "what are the symptoms
    of anal cancer" asks about symptoms, not for a definition, so it has no defined term. "the"
    points back to something already named ("what is the dosage", "what are the side effects"
    after a question about magnesium), so "what is the X" has none either.
    """
    opener = definition_opener(tokens)
    if not opener:
        return ()
    rest = tokens[len(opener) :]
    while rest and rest[0].surface in LEADING_ARTICLES:
        rest = rest[1:]
    if not rest or any(t.stop for t in rest):
        return ()
    return tuple(t.stem for t in rest)


def definition_opener_length(tokens: list[Token]) -> int:
    """How many tokens "define", "explain", "tell me about"... take at the start (0 when nothing follows them)."""
    opener = definition_opener(tokens)
    return len(opener) if len(tokens) > len(opener) else 0


def mark_definition_opener(tokens: list[Token]) -> list[Token]:
    """Treat the opener as question words: never corrected, never searched (see definition_opener_length)."""
    skip = definition_opener_length(tokens)
    return [replace(t, stop=True) if i < skip else t for i, t in enumerate(tokens)]


def clip_question(question: str) -> str:
    """The first MAX_QUESTION_CHARS characters, without a word cut in half at the end."""
    if len(question) <= MAX_QUESTION_CHARS:
        return question
    clipped = question[:MAX_QUESTION_CHARS]
    if question[MAX_QUESTION_CHARS].isalnum() and clipped[-1].isalnum():
        head = clipped.rsplit(None, 1)
        clipped = head[0] if len(head) == 2 else clipped
    return clipped


def mark_answer_type_words(tokens: list[Token]) -> list[Token]:
    """Treat "long" in "how long" (and the like) as a question word, not a topic word."""
    return [
        replace(t, stop=True) if i and t.surface in ANSWER_TYPE_WORDS and tokens[i - 1].surface == "how" else t
        for i, t in enumerate(tokens)
    ]


def is_follow_up(tokens: list[Token], concepts: list[Concept], title_stems: AbstractSet[str]) -> bool:
    """Does the question lean on the previous turn?

    Yes when it opens with "and"/"what about", uses a pronoun, has a single concept, or
    has two concepts of which none names a topic of the corpus (a word of some heading).
    """
    if has_follow_up_cue(tokens) or len(concepts) <= 1:
        return True
    return len(concepts) == 2 and not any(set(c.typed.stems) & title_stems for c in concepts if not c.typed.covers)


def has_follow_up_cue(tokens: list[Token]) -> bool:
    """Opens with "and"/"what about"... or uses a pronoun ("that" after a content word starts a clause, not a cue)."""
    return starts_follow_up(tokens) or any(
        t.surface in PRONOUNS and not is_relative_that(tokens, i) for i, t in enumerate(tokens)
    )


def is_relative_that(tokens: list[Token], i: int) -> bool:
    """ "minerals that help bones": "that" after a content word and before another word opens a relative clause."""
    return tokens[i].surface == "that" and 0 < i < len(tokens) - 1 and not tokens[i - 1].stop


def starts_follow_up(tokens: list[Token]) -> bool:
    """Opens with "and", "also", "what about"..."""
    words = tuple(t.surface for t in tokens[:2])
    return any(words[: len(o)] == o for o in FOLLOW_UP_OPENERS)


def is_numbered_name(first: str, second: str) -> bool:
    """ "omega 3", "b 12", "mk 7": a word and the number that completes its name, as the articles write it joined
    ("omega-3")."""
    return first.isalpha() and second.isdigit()


def carry_over(
    previous: tuple[Concept, ...],
    current: list[Concept],
    weight: float,
    substitutes: dict[str, frozenset[str]] | None = None,
) -> list[Concept]:
    """Previous concepts not already asked about, at reduced weight: the topic carries over, not its WordNet relatives.

    What the previous turn itself carried keeps its weight, so a chain of follow-ups keeps the
    conversation's topic ("which magnesium is best for sleep", "how much should i take", "and from
    food?" still searches magnesium) instead of losing it one turn later. A previous concept that
    the question replaces with one of its `substitutes` (title_substitutes) is not carried: "and
    k2?" after "how much d3 should i take" asks how much K2, not how much of both.
    """
    asked = set().union(*(c.own_stems for c in current)) if current else set()
    replaced = set().union(*(substitutes.get(s, frozenset()) for s in asked)) if substitutes else set()
    carried = []
    for concept in previous:
        new_weight = concept.weight if concept.carried else concept.weight * weight
        if new_weight >= MIN_CARRIED_WEIGHT and not (concept.own_stems & asked) and not (concept.own_stems & replaced):
            carried.append(replace(concept.without_related(), weight=new_weight, carried=True))
    return carried


def title_substitutes(titles: Iterable[str]) -> dict[str, frozenset[str]]:
    """Words that stand in for each other in the corpus's titles: each the one word in which two titles differ.

    "Vitamin D3 Sources" and "Vitamin K2 Sources" make "d3" and "k2" substitutes, as do "Vitamin
    D3" and "Vitamin K2": things of one kind that the articles treat alike. A one-word title
    differs from every other in that word, and says nothing.
    """
    differing: dict[frozenset[str], set[str]] = defaultdict(set)
    for title in set(titles):
        stems = frozenset(terms(title))
        if len(stems) >= 2:
            for word in stems:
                differing[stems - {word}].add(word)
    substitutes: dict[str, set[str]] = defaultdict(set)
    for words in differing.values():
        for word in words:
            substitutes[word] |= words - {word}
    return {word: frozenset(others) for word, others in substitutes.items() if others}
