"""Readers: the plain-text seed article, Markdown, and the validation in bot.readers.parse_article."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ArticleError
from bot.models import Article, Block
from bot.readers import parse_article
from bot.readers.markdown import read_markdown
from bot.readers.plaintext import read_plaintext

FIXTURES = Path(__file__).parent / "fixtures" / "articles"
SLEEP = FIXTURES / "sleep-hygiene.md"

SEED_TITLE = "Vitamin K2 and D3: The Powerful Synergy for Optimal Bone Density"
SEED_TOC = [
    "Introduction",
    "Understanding Bone Health",
    "Vitamin D3: The Foundation",
    "Vitamin K2: The Director",
    "The Synergistic Relationship",
    "Benefits Beyond Bones",
    "Optimal Dosage and Supplementation",
    "Dietary Sources of K2 and D3",
    "Supporting Nutrients for Bone Health",
    "Conclusion",
]


def all_text(article: Article) -> str:
    return "\n".join([article.title] + [b.text for b in article.blocks])


def headings(article: Article, level: int | None = None) -> list[str]:
    return [b.text for b in article.blocks if b.kind == "heading" and (level is None or b.level == level)]


@pytest.fixture(scope="module")
def seed() -> Article:
    from conftest import SEED_ARTICLE

    return read_plaintext(SEED_ARTICLE.read_text(encoding="utf-8"), SEED_ARTICLE.name)


# ----- plain text: the seed article -----------------------------------------------------------
def test_seed_title_and_name(seed: Article) -> None:
    assert seed.title == SEED_TITLE
    assert seed.name == "vitamin-k2-d3-bone-density.txt"


def test_seed_drops_image_name_toc_and_back_to_blog(seed: Article) -> None:
    text = all_text(seed)
    assert ".png" not in text
    assert "m5czzEqoTz" not in text
    assert "Table Of Contents" not in text
    assert "Back to blog" not in text
    # the numbered TOC lines are gone, not kept as a list or paragraphs
    for block in seed.blocks:
        assert not block.text.startswith("1. Introduction")
        assert not (block.kind == "list" and "Introduction" in block.items)


def test_seed_toc_sections_become_level2_headings_in_order(seed: Article) -> None:
    assert headings(seed, 2) == SEED_TOC
    assert seed.blocks[0] == Block.heading("Introduction", 2)


def test_seed_heading_followed_by_list(seed: Article) -> None:
    blocks = list(seed.blocks)
    i = next(i for i, b in enumerate(blocks) if b.kind == "heading" and b.text == "Vitamin K2 Sources")
    assert blocks[i].level == 3
    items = blocks[i + 1]
    assert items.kind == "list"
    assert len(items.items) == 4
    assert items.items[0].startswith("Natto (fermented soybeans)")
    assert any("Gouda" in item for item in items.items)
    # the D3 list too
    j = next(i for i, b in enumerate(blocks) if b.kind == "heading" and b.text == "Vitamin D3 Sources")
    assert blocks[j + 1].kind == "list" and len(blocks[j + 1].items) == 4


def test_seed_repeated_infographic_title_is_not_the_section(seed: Article) -> None:
    """'Benefits Beyond Bones' appears in the infographic first; the section is the later one."""
    blocks = list(seed.blocks)
    positions = [i for i, b in enumerate(blocks) if b.kind == "heading" and b.text == "Benefits Beyond Bones"]
    assert len(positions) == 2
    first, second = positions
    assert blocks[first].level == 3  # the infographic copy stays a subsection of the introduction
    assert blocks[second].level == 2
    assert blocks[second + 1].text.startswith("While bone health is our primary focus")
    # the section headings before it are in TOC order, after "The Synergistic Relationship"
    section_positions = [i for i, b in enumerate(blocks) if b.kind == "heading" and b.level == 2]
    assert section_positions == sorted(section_positions)
    assert blocks[section_positions[SEED_TOC.index("Benefits Beyond Bones")]] is blocks[second]


def test_seed_bulleted_infographic_lists(seed: Article) -> None:
    lists = [b for b in seed.blocks if b.kind == "list"]
    assert any(item.startswith("Enhances calcium absorption from intestines") for b in lists for item in b.items)
    for b in lists:
        for item in b.items:
            assert not item.startswith(("•", "-", "*")), item


def test_plaintext_without_toc_and_with_debris() -> None:
    text = "\n".join(
        [
            "hero-image.JPG",
            "",
            "Growing Tomatoes at Home",
            "",
            "Tomatoes need sun and steady watering to thrive in a home garden.",
            "",
            "Choosing a Variety",
            "",
            "Cherry tomatoes are forgiving and quick to ripen in short summers.",
            "",
            "What You Need:",
            "",
            "A large pot with drainage",
            "Rich compost or potting mix",
            "A sunny spot",
            "",
            "- water in the morning",
            "- feed every two weeks",
            "",
            "Share this post",
            "Back to top",
        ]
    )
    article = read_plaintext(text, "tomatoes.txt")
    assert article.title == "Growing Tomatoes at Home"
    assert headings(article) == ["Choosing a Variety", "What You Need"]
    assert all(b.level == 2 for b in article.blocks if b.kind == "heading")
    lists = [b.items for b in article.blocks if b.kind == "list"]
    assert ("A large pot with drainage", "Rich compost or potting mix", "A sunny spot") in lists
    assert ("water in the morning", "feed every two weeks") in lists
    text_out = all_text(article)
    for debris in ("hero-image", "Share this post", "Back to top"):
        assert debris not in text_out


def test_plaintext_title_falls_back_to_file_name() -> None:
    article = read_plaintext("\n\n", "my-garden_notes.txt")
    assert article.title == "My garden notes"
    assert article.blocks == ()


# ----- Markdown ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sleep() -> Article:
    return read_markdown(SLEEP.read_text(encoding="utf-8"), SLEEP.name)


def test_markdown_front_matter_title(sleep: Article) -> None:
    assert sleep.title == "Sleep Hygiene: Habits for Deeper Rest"
    text = all_text(sleep)
    for front in ("date:", "author:", "Dana Whitfield", "tags:"):
        assert front not in text
    # the '# ' title is not repeated as a block
    assert "Sleep Hygiene: Habits for Deeper Rest" not in headings(sleep)


def test_markdown_heading_levels(sleep: Article) -> None:
    assert headings(sleep, 2)[:3] == [
        "What Is Sleep Hygiene?",
        "Why Your Body Clock Matters",
        "Building a Better Bedroom",
    ]
    assert "Circadian Rhythm Basics" in headings(sleep, 3)
    assert "Caffeine and Alcohol" in headings(sleep, 3)
    assert {b.level for b in sleep.blocks if b.kind == "heading"} == {2, 3}


def test_markdown_lists_and_inline_markup(sleep: Article) -> None:
    lists = [b for b in sleep.blocks if b.kind == "list"]
    bedroom = next(b for b in lists if b.items[0].startswith("Keep it cool."))
    assert len(bedroom.items) == 5
    assert "**" not in bedroom.text
    routine = next(b for b in lists if b.items[0].startswith("Set a fixed"))
    assert len(routine.items) == 5  # a numbered list
    text = all_text(sleep)
    assert "**" not in text and "`" not in text and "](" not in text and "![" not in text
    assert "7 to 9 hours" in text  # was **7 to 9 hours**
    assert "Do Not Disturb" in text  # was `Do Not Disturb`
    assert "National Sleep Foundation's guide to insomnia" in text  # link text kept
    assert "example.com" not in text  # link target dropped


def test_markdown_levels_are_normalised() -> None:
    article = read_markdown("# Title\n\n### Deep\n\ntext one\n\n#### Deeper\n\nmore text\n", "x.md")
    assert article.title == "Title"
    assert [(b.text, b.level) for b in article.blocks if b.kind == "heading"] == [("Deep", 2), ("Deeper", 3)]


def test_markdown_without_h1_uses_file_name() -> None:
    article = read_markdown("## First\n\nSome text.\n", "my-notes.md")
    assert article.title == "My notes"
    assert article.blocks[0] == Block.heading("First", 2)


def test_markdown_setext_headings() -> None:
    article = read_markdown("My Title\n========\n\nIntro para here.\n\nSection\n-------\n\nBody text here.\n", "s.md")
    assert article.title == "My Title"
    assert list(article.blocks) == [
        Block.paragraph("Intro para here."),
        Block.heading("Section", 2),
        Block.paragraph("Body text here."),
    ]


def test_markdown_fenced_code_is_not_parsed_as_markdown() -> None:
    text = "# T\n\nIntro.\n\n```python\ncode line one\n# not a heading\n- not a list\n```\n\nAfter.\n"
    article = read_markdown(text, "c.md")
    assert headings(article) == []
    assert not any(b.kind == "list" for b in article.blocks)
    code = [b.text for b in article.blocks if "code line one" in b.text]
    assert len(code) == 1 and "not a heading" in code[0] and "not a list" in code[0]
    assert "```" not in all_text(article)
    assert article.blocks[-1] == Block.paragraph("After.")


def test_markdown_inline_markup_stripped() -> None:
    text = "Some **bold**, *italic*, _under_, [a link](http://x.y/z), ~~gone~~, `code`, ![img](p.png) <b>tag</b> end.\n"
    article = read_markdown(text, "i.md")
    assert article.blocks == (Block.paragraph("Some bold, italic, under, a link, gone, code, tag end."),)


def test_markdown_list_continuation_and_numbered() -> None:
    article = read_markdown("Intro:\n\n* a\n* b\n  continued\n\n1. one\n2. two\n", "l.md")
    items = [item for b in article.blocks if b.kind == "list" for item in b.items]
    assert items == ["a", "b continued", "one", "two"]


def test_markdown_drops_navigation_lines() -> None:
    article = read_markdown("# T\n\nReal text here.\n\nBack to blog\n", "n.md")
    assert "Back to blog" not in all_text(article)


# ----- parse_article validation ---------------------------------------------------------------
NAV_ONLY_HTML = (
    b"<html><head><title>Shop</title><script>var x = 1;</script></head><body>"
    b'<header><nav><ul><li><a href="/">Home</a></li><li><a href="/cart">Cart (0)</a></li></ul></nav></header>'
    b'<div class="cookie-banner">We use cookies <button>Accept</button></div>'
    b"<footer><p>Privacy policy. Terms of service. &copy; 2024</p></footer></body></html>"
)


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\t \r\n ", "empty"),
        ("nul.txt", b"Some text\x00with a NUL byte", "binary"),
        ("controls.txt", bytes(range(1, 32)) * 20, "binary"),
        ("latin1.txt", "Caf\xe9 cr\xe8me recipes".encode("latin-1"), "UTF-8"),
        ("image.png.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("report.pdf", b"%PDF-1.4 hello", "unsupported"),
        ("noext", b"plain words", "unsupported"),
        ("nav.html", NAV_ONLY_HTML, "no article text"),
        ("headings.md", b"# Only\n\n## Headings\n", "no article text"),
        ("odd-utf16.txt", b"\xff\xfe" + "Half a character".encode("utf-16-le") + b"\x00", "UTF-16"),
        ("utf16-nul.txt", "\ufeffText\x00with a NUL".encode("utf-16-le"), "binary"),
    ],
)
def test_parse_article_rejects(name: str, data: bytes, problem: str) -> None:
    with pytest.raises(ArticleError) as info:
        parse_article(data, name)
    assert info.value.name == name
    assert str(info.value).startswith(name + ":")
    assert problem.lower() in str(info.value).lower()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_article_with_its_byte_order_mark_is_read(encoding: str) -> None:
    """Windows Notepad's "Unicode" files were refused as binary ("it contains NUL bytes")."""
    text = "# Café notes\n\n## Crème brûlée\n\nBake the custard slowly in a water bath.\n"
    data = ("\ufeff" + text).encode(encoding) if encoding.endswith("be") else text.encode(encoding)
    article = parse_article(data, "notes.md")
    assert article.title == "Café notes"
    assert any("water bath" in block.text for block in article.blocks)


def test_parse_article_rejects_oversized() -> None:
    data = b"Words and more words. " * 100
    with pytest.raises(ArticleError) as info:
        parse_article(data, "big.txt", max_bytes=1000)
    message = str(info.value)
    assert "big.txt" in message and "limit" in message and "1,000" in message
    # exactly at the limit is fine
    article = parse_article(data[:1000], "big.txt", max_bytes=1000)
    assert article.blocks


def test_parse_article_accepts_bom_and_picks_reader_by_extension(seed_article: Path) -> None:
    article = parse_article(b"\xef\xbb\xbfHello World\n\nSome text here.\n", "bom.txt")
    assert article.title == "Hello World"
    md = parse_article(b"# Markdown Title\n\nBody text.\n", "UPPER.MD")
    assert md.title == "Markdown Title"
    seed = parse_article(seed_article.read_bytes(), seed_article.name)
    assert seed.title == SEED_TITLE


def test_plaintext_single_paragraph_is_not_swallowed_by_the_title() -> None:
    """A .txt that is one long paragraph keeps it as text (title from the file name)."""
    paragraph = " ".join(["Compost heaps need air, water and a mix of green and brown material."] * 5)
    article = parse_article(paragraph.encode(), "compost-notes.txt")
    assert article.title == "Compost notes"
    assert article.blocks == (Block.paragraph(paragraph),)


def test_plaintext_question_headings() -> None:
    text = "\n".join(
        [
            "Hydration Basics",
            "",
            "Water makes up about 60 percent of the adult body.",
            "",
            "How Much Should You Drink?",
            "",
            "About 2.7 liters a day for women and 3.7 liters for men, counting food.",
            "",
            "Is it possible to drink too much?",
            "",
            "Can You Drink Too Much?",
            "",
            "Yes. Very large amounts in a short time can cause hyponatremia.",
        ]
    )
    article = read_plaintext(text, "hydration.txt")
    assert headings(article) == ["How Much Should You Drink?", "Can You Drink Too Much?"]
    # a sentence-case question on its own line is text, not a heading
    assert "Is it possible to drink too much?" in [b.text for b in article.blocks if b.kind == "paragraph"]


def test_plaintext_sentence_case_and_numbered_headings() -> None:
    text = "\n".join(
        [
            "A beginner's guide to composting",
            "",
            "Composting turns kitchen scraps into a dark, crumbly soil improver for free.",
            "",
            "What to keep out",
            "",
            "Do not add meat, fish, dairy or cooked food, which attract rats and flies.",
            "",
            "1. Choosing a spot",
            "",
            "Put the bin on bare soil in a sunny or partly shaded place, so worms can move in.",
            "",
            "Signs it is ready",
            "Dark brown colour",
            "Earthy smell",
            "It crumbles easily when you squeeze a handful of it in your palm.",
            "",
            "1. Chop scraps small",
            "2. Keep it moist",
        ]
    )
    article = read_plaintext(text, "compost.txt")
    assert headings(article) == ["What to keep out", "Choosing a spot"]
    # unbulleted short lines after text that has not ended stay text; a real numbered list stays a list
    paragraphs = [b.text for b in article.blocks if b.kind == "paragraph"]
    assert "Earthy smell" in paragraphs and "Signs it is ready" in paragraphs
    assert ("Chop scraps small", "Keep it moist") in [b.items for b in article.blocks if b.kind == "list"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize(
    "text",
    [
        "# Café notes\n\n## Crème brûlée\n\nBake the custard slowly in a water bath.\n",
        "# Заметки\n\n## Сырники\n\nЖарьте на среднем огне, water bath не нужна.\n",
    ],
)
def test_a_utf16_article_without_a_byte_order_mark_is_read(encoding: str, text: str) -> None:
    """A UTF-16 file without its byte-order mark was refused as "binary (it contains NUL bytes)"."""
    article = parse_article(text.encode(encoding), "notes.md")
    assert article.title == text.splitlines()[0].removeprefix("# ")
    assert any("water bath" in block.text for block in article.blocks)


def test_utf16_without_a_byte_order_mark_that_does_not_decode_is_called_utf16() -> None:
    data = "Some text".encode("utf-16-le") + b"\x01\xd8" + " and then more text".encode("utf-16-le")  # lone surrogate
    with pytest.raises(ArticleError) as info:
        parse_article(data, "broken.txt")
    assert "UTF-16" in str(info.value) and "byte-order mark" in str(info.value)


def test_nul_bytes_at_one_parity_that_decode_to_control_characters_are_binary() -> None:
    with pytest.raises(ArticleError, match="file is binary"):
        parse_article(b"\x00\x01\x02binary\xff" * 20, "blob.md")
