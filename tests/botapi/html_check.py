"""Strict validator for Telegram's ``parse_mode=HTML`` message formatting.

It mirrors the documented rules of https://core.telegram.org/bots/api#html-style and
turns valid HTML into ``(plain_text, entities)`` the way the Bot API does. Invalid input
raises :class:`EntityParseError` whose message is the reason Telegram would give after
``Bad Request: can't parse entities: ``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

NAMED_ENTITIES: dict[str, str] = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Allowed tag name -> Bot API entity type (None: decided by attributes).
ENTITY_TYPES: dict[str, str | None] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": None,
    "tg-emoji": "custom_emoji",
}

_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,7}|[A-Za-z][A-Za-z0-9]{0,31});")
_END_TAG_RE = re.compile(r"</\s*([A-Za-z][A-Za-z0-9-]*)\s*>")
_TAG_NAME_RE = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)")
_ATTR_PATTERN = r"""([A-Za-z_:][A-Za-z0-9_:.-]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_START_TAG_RE = re.compile(r"<([A-Za-z][A-Za-z0-9-]*)((?:\s+" + _ATTR_PATTERN + r")*)\s*>")
_ATTR_RE = re.compile(r"\s*" + _ATTR_PATTERN)


class EntityParseError(ValueError):
    """Raised for HTML that Telegram refuses with ``can't parse entities``."""


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit for lengths and offsets)."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag."""

    name: str
    attrs: dict[str, str]
    offset: int  # UTF-16 offset in the output text
    byte_offset: int


@dataclass
class _Parser:
    """Single-pass scanner over the HTML source."""

    source: str
    out: list[str] = field(default_factory=list)
    out_len16: int = 0
    stack: list[_OpenTag] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def byte_offset(self, index: int) -> int:
        return len(self.source[:index].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.out_len16 += utf16_len(text)

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        i = 0
        src = self.source
        while i < len(src):
            ch = src[i]
            if ch == "<":
                i = self.tag(i)
            elif ch == "&":
                i = self.entity(i)
            elif ch == ">":
                raise EntityParseError(
                    f'Character ">" is reserved and must be escaped as "&gt;" at byte offset {self.byte_offset(i)}'
                )
            else:
                nxt = _next_special(src, i)
                self.emit(src[i:nxt])
                i = nxt
        if self.stack:
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def entity(self, i: int) -> int:
        m = _ENTITY_RE.match(self.source, i)
        if m is None:
            raise EntityParseError(f'Character "&" must be escaped as "&amp;" at byte offset {self.byte_offset(i)}')
        self.emit(_decode_entity(m.group(1), self.byte_offset(i)))
        return m.end()

    def tag(self, i: int) -> int:
        if self.source.startswith("</", i):
            return self.end_tag(i)
        named = _TAG_NAME_RE.match(self.source, i)
        if named is None:
            raise EntityParseError(f'Character "<" must be escaped as "&lt;" at byte offset {self.byte_offset(i)}')
        name = named.group(1).lower()
        if name not in ENTITY_TYPES:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {self.byte_offset(i)}')
        m = _START_TAG_RE.match(self.source, i)
        if m is None:
            raise EntityParseError(f'Can\'t find end of tag "{name}" at byte offset {self.byte_offset(i)}')
        attrs = _parse_attrs(m.group(2), self.byte_offset(i))
        _check_attrs(name, attrs, self.byte_offset(i))
        self.stack.append(_OpenTag(name, attrs, self.out_len16, self.byte_offset(i)))
        return m.end()

    def end_tag(self, i: int) -> int:
        m = _END_TAG_RE.match(self.source, i)
        if m is None:
            raise EntityParseError(f"Unclosed end tag at byte offset {self.byte_offset(i)}")
        name = m.group(1).lower()
        if not self.stack:
            raise EntityParseError(f'Unexpected end tag "{name}" at byte offset {self.byte_offset(i)}')
        top = self.stack[-1]
        if top.name != name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {self.byte_offset(i)}, expected "</{top.name}>", found "</{name}>"'
            )
        self.stack.pop()
        self.close(top)
        return m.end()

    def close(self, tag: _OpenTag) -> None:
        length = self.out_len16 - tag.offset
        if length <= 0:
            return
        entity = _make_entity(tag, length)
        if tag.name == "code" and self._inside("pre"):
            self._merge_language_into_pre(entity)
            return
        if tag.name == "code":
            entity.pop("language", None)  # a language on standalone code is ignored
        self.entities.append(entity)

    def _inside(self, name: str) -> bool:
        return any(t.name == name for t in self.stack)

    def _merge_language_into_pre(self, code_entity: dict[str, Any]) -> None:
        """``<pre><code class="language-x">`` becomes a single pre entity with a language."""
        pre = next(t for t in reversed(self.stack) if t.name == "pre")
        if "language" in code_entity:
            pre.attrs["__language"] = code_entity["language"]


def _next_special(src: str, i: int) -> int:
    """Index of the next ``<``, ``&`` or ``>`` at or after ``i`` (or len)."""
    positions = [p for p in (src.find(c, i) for c in "<&>") if p != -1]
    return min(positions) if positions else len(src)


def _decode_entity(body: str, byte_offset: int) -> str:
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise EntityParseError(f"Invalid numeric entity at byte offset {byte_offset}")
        return chr(code)
    if body in NAMED_ENTITIES:
        return NAMED_ENTITIES[body]
    raise EntityParseError(
        f'Unsupported HTML entity "&{body};" at byte offset {byte_offset}; '
        "only &lt; &gt; &amp; &quot; and numeric entities are allowed"
    )


def _parse_attrs(raw: str, byte_offset: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    pos = 0
    raw = raw.rstrip()
    while pos < len(raw):
        m = _ATTR_RE.match(raw, pos)
        if m is None or m.end() == pos:
            raise EntityParseError(f"Invalid tag attributes at byte offset {byte_offset}")
        value = m.group(2) or ""
        if value[:1] in ('"', "'"):
            value = value[1:-1]
        attrs[m.group(1).lower()] = _decode_attr_value(value, byte_offset)
        pos = m.end()
    return attrs


def _decode_attr_value(value: str, byte_offset: int) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            m = _ENTITY_RE.match(value, i)
            if m is None:
                raise EntityParseError(f'Character "&" must be escaped as "&amp;" at byte offset {byte_offset}')
            out.append(_decode_entity(m.group(1), byte_offset))
            i = m.end()
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _check_attrs(name: str, attrs: dict[str, str], byte_offset: int) -> None:
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {byte_offset}')
    if name == "a" and not attrs.get("href", "").strip():
        raise EntityParseError(f'Tag "a" must have attribute "href" at byte offset {byte_offset}')
    if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
        raise EntityParseError(f'Tag "tg-emoji" must have a numeric "emoji-id" at byte offset {byte_offset}')
    if name == "code" and "class" in attrs and not attrs["class"].startswith("language-"):
        attrs.pop("class")


def _make_entity(tag: _OpenTag, length: int) -> dict[str, Any]:
    kind = ENTITY_TYPES[tag.name]
    if tag.name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in tag.attrs else "blockquote"
    entity: dict[str, Any] = {"type": kind, "offset": tag.offset, "length": length}
    if tag.name == "a":
        entity["url"] = tag.attrs["href"].strip()
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif tag.name == "code" and tag.attrs.get("class", "").startswith("language-"):
        entity["language"] = tag.attrs["class"][len("language-") :]
    elif tag.name == "pre" and tag.attrs.get("__language"):
        entity["language"] = tag.attrs["__language"]
    return entity


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into plain text and Bot API ``MessageEntity`` dicts.

    Raises :class:`EntityParseError` exactly where Telegram rejects the markup.
    """
    return _Parser(source).run()


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace like Telegram does, shifting/clipping entity offsets."""
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result: list[dict[str, Any]] = []
    for ent in entities:
        start = max(ent["offset"] - lead, 0)
        end = min(ent["offset"] + ent["length"] - lead, total)
        if end > start:
            result.append({**ent, "offset": start, "length": end - start})
    return stripped, result
