"""Passage building: context of every passage, lists kept whole, long paragraphs split, no debris."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import SEED_ARTICLE
from test_readers import SEED_TITLE, SEED_TOC

from bot.models import Article, Block, Passage
from bot.passages import DEFAULT_MAX_WORDS, build_passages
from bot.readers import parse_article
from bot.text import split_sentences

FIXTURES = Path(__file__).parent / "fixtures" / "articles"


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def seed_passages() -> list[Passage]:
    article = parse_article(SEED_ARTICLE.read_bytes(), SEED_ARTICLE.name)
    return build_passages(article)


def test_every_passage_knows_its_context(seed_passages: list[Passage]) -> None:
    assert [p.position for p in seed_passages] == list(range(len(seed_passages)))
    for p in seed_passages:
        assert p.article == SEED_TITLE
        assert p.source == SEED_ARTICLE.name
        assert p.section in SEED_TOC, p.section
        assert isinstance(p.subsection, str)
        assert p.text.strip()
    # sections appear in article order
    order = [SEED_TOC.index(p.section) for p in seed_passages]
    assert order == sorted(order)
    assert {p.section for p in seed_passages} == set(SEED_TOC)
    # subsections are known where the article has them
    assert ("Vitamin D3: The Foundation", "How D3 Supports Bone Health") in {
        (p.section, p.subsection) for p in seed_passages
    }


def test_heading_plus_list_stay_together_in_seed(seed_passages: list[Passage]) -> None:
    k2 = [p for p in seed_passages if p.subsection == "Vitamin K2 Sources"]
    assert len(k2) == 1
    lines = k2[0].text.splitlines()
    assert lines[0].startswith("• Natto")
    assert sum(1 for line in lines if line.startswith("• ")) == 4
    assert k2[0].section == "Dietary Sources of K2 and D3"
    d3 = [p for p in seed_passages if p.subsection == "Vitamin D3 Sources"]
    assert len(d3) == 1 and "Fatty fish" in d3[0].text and "Egg yolks" in d3[0].text
    # no passage holds only part of a list: every bullet of a list is in the same passage
    natto = [p for p in seed_passages if "Natto (fermented soybeans)" in p.text]
    assert natto == k2


def test_heading_plus_list_stays_together_even_when_small_limit() -> None:
    article = Article(
        "a.md",
        "Garden",
        (
            Block.heading("Tools", 2),
            Block.paragraph("These tools are the ones you need most:"),
            Block.bullet_list(["a sharp spade", "a garden fork", "a watering can"]),
            Block.heading("Soil", 2),
            Block.paragraph("Good soil is loose, dark and full of worms and roots."),
        ),
    )
    passages = build_passages(article, max_words=10)
    tools = [p for p in passages if p.section == "Tools"]
    assert len(tools) == 1
    assert tools[0].text.splitlines() == [
        "These tools are the ones you need most:",
        "• a sharp spade",
        "• a garden fork",
        "• a watering can",
    ]
    assert [p.section for p in passages] == ["Tools", "Soil"]


def test_subsection_and_article_title_fallback() -> None:
    article = Article(
        "b.md",
        "Bread Basics",
        (
            Block.paragraph("Bread needs flour, water, salt and time to rise properly."),
            Block.heading("Sourdough", 2),
            Block.heading("Starter", 3),
            Block.paragraph("A starter is flour and water fermented by wild yeast."),
        ),
    )
    passages = build_passages(article)
    assert [(p.section, p.subsection) for p in passages] == [("Bread Basics", ""), ("Sourdough", "Starter")]
    assert passages[1].heading == "Sourdough › Starter"


def long_paragraph(sentences: int = 60) -> str:
    return " ".join(f"Sentence number {n} talks about soil, water and light for plants." for n in range(sentences))


def test_long_paragraph_is_split_at_sentence_boundaries() -> None:
    paragraph = long_paragraph(60)  # 660 words
    article = Article("c.txt", "Plants", (Block.heading("Care", 2), Block.paragraph(paragraph)))
    passages = build_passages(article, max_words=50)
    assert len(passages) > 1
    sentences = set(split_sentences(paragraph))
    for p in passages:
        assert words(p.text) <= 50
        assert p.text.endswith(".")
        # every passage is made of whole sentences
        for s in split_sentences(p.text):
            assert s in sentences, s
    # nothing lost, nothing duplicated, order kept
    assert " ".join(p.text for p in passages).split() == paragraph.split()


def test_single_sentence_over_the_limit_stays_whole() -> None:
    sentence = "This one sentence " + " ".join(f"word{n}" for n in range(80)) + " ends here."
    article = Article("d.txt", "Long", (Block.heading("Only", 2), Block.paragraph(sentence)))
    passages = build_passages(article, max_words=50)
    assert [p.text for p in passages] == [sentence]


def test_long_list_is_split_between_items_not_inside() -> None:
    items = [f"item {n} with five words" for n in range(40)]  # 200 words
    article = Article("e.md", "List", (Block.heading("Things", 2), Block.bullet_list(items)))
    passages = build_passages(article, max_words=50)
    assert len(passages) > 1
    out = [line for p in passages for line in p.text.splitlines()]
    assert out == [f"• {item}" for item in items]
    assert all(words(p.text) <= 50 for p in passages)


NAV_PATTERNS = [
    re.compile(r"\.png", re.IGNORECASE),
    re.compile(r"table of contents", re.IGNORECASE),
    re.compile(r"back to blog", re.IGNORECASE),
    re.compile(r"^\s*\d+\.\s+(Introduction|Conclusion|Understanding Bone Health)\s*$", re.MULTILINE),
]


def test_no_navigation_debris_in_passages(seed_passages: list[Passage]) -> None:
    for p in seed_passages:
        for pattern in NAV_PATTERNS:
            assert not pattern.search(p.text), (pattern.pattern, p.text[:80])
            assert not pattern.search(p.subsection), (pattern.pattern, p.subsection)
    # the TOC list is not a passage: no passage is just the section names
    toc_lines = set(SEED_TOC)
    for p in seed_passages:
        lines = {line.lstrip("• ").strip() for line in p.text.splitlines()}
        assert not (len(lines) > 2 and lines <= toc_lines)


def test_no_debris_in_markdown_fixture_passages() -> None:
    path = FIXTURES / "sleep-hygiene.md"
    passages = build_passages(parse_article(path.read_bytes(), path.name))
    assert passages
    for p in passages:
        assert p.article == "Sleep Hygiene: Habits for Deeper Rest"
        assert p.source == "sleep-hygiene.md"
        for junk in ("![", "](", "**", "---", "author:", "img.png"):
            assert junk not in p.text, (junk, p.text[:80])
    bedroom = [p for p in passages if p.section == "Building a Better Bedroom"]
    assert len(bedroom) == 1 and bedroom[0].text.count("• Keep ") == 5


def test_seed_passage_count_and_sizes_are_sane(seed_passages: list[Passage]) -> None:
    sizes = [words(p.text) for p in seed_passages]
    assert 15 <= len(seed_passages) <= 80
    assert max(sizes) <= DEFAULT_MAX_WORDS
    assert min(sizes) >= 3
    mean = sum(sizes) / len(sizes)
    assert 20 <= mean <= 120, mean
    # the whole article body is covered: its key facts are in some passage
    text = "\n".join(p.text for p in seed_passages)
    for fact in (
        "1,000-5,000 IU daily",
        "45-180 mcg daily",
        "Natto (fermented soybeans)",
        "About 60% of the body's magnesium",
    ):
        assert fact in text, fact
    # no passage text is duplicated
    assert len({p.text for p in seed_passages}) == len(seed_passages)
