"""Unit tests of bot/telegram/render.py: escaping, highlighting, splitting and callback data sizes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.answers import Answer, Result
from bot.telegram import render
from bot.telegram.handlers import answer_keyboard
from bot.telegram.render import Rich, Span
from bot.vector_build import VectorStatus
from tests.botapi.html_check import parse_html, utf16_len

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(60)

HOSTILE = '<script>alert("x")</script> a & b < c > d &amp; &lt;b&gt;'


def result(
    text: str, highlights: frozenset[str] = frozenset(), answer: str = "", section: str = "Dietary Sources <K2>"
) -> Result:
    """A Result with the given passage."""
    return Result("Vitamins & <Bones>", "a.txt", section, "", text, 1.0, answer, highlights)


def parsed(html: str) -> tuple[str, list[dict[str, object]]]:
    """Parse like Telegram; fails the test on markup Telegram would reject."""
    return parse_html(html)


def entity_text(text: str, entity: dict[str, object]) -> str:
    """The part of `text` an entity covers (offsets are in UTF-16 units)."""
    start, length = int(entity["offset"]), int(entity["length"])  # type: ignore[call-overload]
    return text.encode("utf-16-le")[2 * start : 2 * (start + length)].decode("utf-16-le")


def bold_words(html: str) -> list[str]:
    """The texts of the bold entities of a message."""
    text, entities = parsed(html)
    return [entity_text(text, e) for e in entities if e["type"] == "bold"]


def assert_chunks_ok(chunks: list[str], source_text: str) -> None:
    """Every chunk parses, is within the limit, and together they hold all the non-space text."""
    plain = []
    for chunk in chunks:
        text, _ = parsed(chunk)
        assert 0 < utf16_len(text) <= render.MAX_MESSAGE
        plain.append(text)
    assert re.sub(r"\s", "", "".join(plain)) == re.sub(r"\s", "", source_text)


# ----- escaping ----------------------------------------------------------------------------
def test_every_text_piece_is_escaped() -> None:
    rich = render.bold(HOSTILE) + "\n" + render.italic(HOSTILE) + "\n" + HOSTILE
    html = render.to_html(rich)
    assert "<script>" not in html and "&amp;amp;" in html
    text, entities = parsed(html)
    assert text == f"{HOSTILE}\n{HOSTILE}\n{HOSTILE}"
    assert [e["type"] for e in entities] == ["bold", "italic"]


def test_result_block_escapes_heading_title_and_passage() -> None:
    block = render.result_block(result("Natto <3 & cheese > milk"), 1)
    text, _ = parsed(render.to_html(block))
    assert "1. Dietary Sources <K2>" in text and "Vitamins & <Bones>" in text and "Natto <3 & cheese > milk" in text


# ----- highlighting ------------------------------------------------------------------------
def test_highlights_land_on_the_matched_words() -> None:
    text = "Natto and aged cheeses are rich in vitamin K2; fermented foods are good."
    html = render.to_html(render.highlighted(text, frozenset({"food", "k2", "chees"})))
    assert bold_words(html) == ["cheeses", "K2", "foods"]


def test_highlights_next_to_escaped_characters() -> None:
    text = "<b>K2</b> & K2-rich foods > D3"
    html = render.to_html(render.highlighted(text, frozenset({"k2", "d3"})))
    assert bold_words(html) == ["K2", "K2-rich", "D3"]
    assert parsed(html)[0] == text


def test_answer_sentence_leads_and_passage_is_quoted() -> None:
    passage = "Vitamin D3 helps absorb calcium. Natto is rich in K2. Cheese too."
    block = render.result_block(result(passage, frozenset({"k2"}), "Natto is rich in K2."), 2)
    text, entities = parsed(render.to_html(block))
    assert text.index("💡 Natto is rich in K2.") < text.index(passage)
    quote = next(e for e in entities if e["type"] == "expandable_blockquote")
    assert entity_text(text, quote) == passage
    assert bold_words(render.to_html(block)).count("K2") == 2


def test_nested_tags_stay_balanced_when_spans_overlap() -> None:
    rich = Rich("abcdefghij", (Span(0, 6, "b"), Span(3, 9, "i"), Span(0, 10, "quote")))
    html = render.to_html(rich)
    assert html.startswith("<blockquote expandable><b>abc<i>def</i></b><i>ghi</i>j")
    text, entities = parsed(html)
    assert text == "abcdefghij" and len([e for e in entities if e["type"] == "expandable_blockquote"]) == 1


# ----- splitting ---------------------------------------------------------------------------
def test_short_text_is_one_chunk() -> None:
    assert render.to_messages(render.bold("hello")) == ["<b>hello</b>"]
    assert render.to_messages(render.plain("   ")) == []


def test_long_passage_splits_on_sentences_with_balanced_highlights() -> None:
    sentence = "Natto & aged <cheese> are rich in vitamin K2 and help bones. "
    passage = (sentence * 170).strip()  # about 10,000 characters in one paragraph
    assert len(passage) > 10_000
    page = render.answer_page(Answer("q", "k2", (result(passage, frozenset({"k2", "bone"})),)), 0, 3)
    chunks = render.to_messages(page)
    assert len(chunks) == 3
    assert_chunks_ok(chunks, page.text)
    for chunk in chunks[:-1]:
        assert parsed(chunk)[0].endswith("help bones.")  # cut at a sentence end, not inside a word
    words = [w for chunk in chunks for w in bold_words(chunk)]
    assert set(words) == {"1. Dietary Sources <K2>", "K2", "bones"}
    assert words.count("K2") == passage.count("K2")


def test_splitting_prefers_paragraphs_then_lines() -> None:
    paragraphs = ["First paragraph " + "x " * 1500, "Second paragraph " + "y " * 1500, "Third " + "z " * 1500]
    chunks = render.split(render.plain("\n\n".join(paragraphs)))
    assert [c.text.split()[0] for c in chunks] == ["First", "Second", "Third"]
    lines = render.split(render.plain("\n".join(["line " * 300] * 10)))
    assert all(c.text.endswith("line") for c in lines)


def test_one_huge_word_is_cut_hard_inside_bold() -> None:
    word = "K" * 5000
    chunks = render.to_messages(render.bold(word) + " tail")
    assert len(chunks) == 2
    assert_chunks_ok(chunks, word + " tail")
    assert all(c.startswith("<b>") for c in chunks)
    assert chunks[1].endswith("</b> tail")


def test_limit_counts_utf16_units_and_escapes_do_not_count() -> None:
    emoji = "😀" * 3000  # 6,000 UTF-16 units, 3,000 code points
    chunks = render.to_messages(render.plain(emoji))
    assert len(chunks) == 2 and all(utf16_len(parsed(c)[0]) <= render.LIMIT for c in chunks)
    amps = render.to_messages(render.plain("&" * 3990))  # 18,000+ characters of HTML, 3,990 of text
    assert len(amps) == 1 and len(amps[0]) > render.MAX_MESSAGE


def test_hostile_long_text_splits_without_breaking_entities() -> None:
    text = (HOSTILE + " مرحبا بالعالم 👋🏽 ") * 300
    chunks = render.to_messages(render.italic(text))
    assert len(chunks) > 1
    assert_chunks_ok(chunks, text)


# ----- pages, replies, callback data -------------------------------------------------------
def answer_with(n: int) -> Answer:
    """An answer with n small results."""
    return Answer("q?", "q", tuple(result(f"Passage number {k}.", section=f"Section {k}") for k in range(1, n + 1)))


def test_page_footer_and_numbering() -> None:
    answer = answer_with(5)
    first, _ = parsed(render.to_html(render.answer_page(answer, 0, 3)))
    last, _ = parsed(render.to_html(render.answer_page(answer, 3, 3)))
    assert "1. Section 1" in first and "3. Section 3" in first and "Section 4" not in first
    assert first.endswith("1–3 of 5 · More below")
    assert "4. Section 4" in last and last.endswith("4–5 of 5")
    assert render.page_footer(5, 5, 5) == "5 of 5"


def test_interpretation_line_only_for_follow_ups_and_corrections() -> None:
    plain_answer = answer_with(1)
    follow = Answer("and d3?", "d3 foods", plain_answer.results, follow_up=True, corrections={"vitamn": "vitamin"})
    assert "Searching for" not in parsed(render.to_html(render.answer_page(plain_answer, 0, 3)))[0]
    text, _ = parsed(render.to_html(render.answer_page(follow, 0, 3)))
    assert text.startswith("🔎 Searching for: d3 foods (vitamn → vitamin; following on from your last question)")


def test_no_answer_names_the_words_no_article_uses_escaped() -> None:
    answer = Answer("what is <b>x</b> & y", "b x y", message="none", unknown=("<b>", "x&y"))
    html = render.to_html(render.no_answer(answer, []))
    text, _ = parsed(html)
    assert "They never mention “<b>” or “x&y”." in text
    assert "&lt;b&gt;" in html and "x&amp;y" in html


def test_no_answer_suggests_topics_and_empty_question_shows_message() -> None:
    topics = ["Vitamin D3", "Vitamin <K2>", "Dosage & timing"]
    text, _ = parsed(render.to_html(render.no_answer(Answer("capital?", "capital", message="none"), topics)))
    assert "couldn't find anything" in text and all(f"• {t}" in text for t in topics)
    empty, _ = parsed(render.to_html(render.no_answer(Answer("the", "", message='Type <words> & "more"'), topics)))
    assert empty == '🤔 Type <words> & "more"'


def test_callback_data_fits_telegram_limit() -> None:
    markup = answer_keyboard("A" * 8, 10**17)
    assert markup is not None
    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert data == ["more:AAAAAAAA", f"fb:{10**17}:+", f"fb:{10**17}:-"]
    assert all(isinstance(d, str) and len(d.encode()) <= render.MAX_CALLBACK_DATA for d in data)
    assert answer_keyboard(None, 0) is None
    with pytest.raises(ValueError):
        render.callback_data("x" * 65)


def test_sources_and_article_list_escape_names() -> None:
    text, entities = parsed(render.to_html(render.sources([("A & <B>", ["S1 <x>", "S2"])])))
    assert "📄 A & <B>\n• S1 <x>\n• S2" in text and entities[0]["type"] == "bold"
    listing, _ = parsed(render.to_html(render.article_list([("a&b.md", "T <1>", 4)])))
    assert "a&b.md — T <1> (4 passages)" in listing and "⏳" not in listing


def test_the_article_list_shows_how_far_the_passage_vectors_got() -> None:
    status = VectorStatus("build-1", 1530, 9272, running=True)
    listing, _ = parsed(render.to_html(render.article_list([("a.md", "A", 4)], status.describe())))
    assert listing.endswith("⏳ " + status.describe()) and "1,530 of 9,272 passages (16%)" in listing


def test_rendering_depends_on_data_only() -> None:
    """Importing the renderer does not load the engine: it only turns data into text."""
    code = "import sys, bot.telegram.render; print(sorted(m for m in ('bot.engine',) if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "[]"
