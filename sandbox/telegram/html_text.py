"""Telegram's HTML parse mode: checks markup the way the Bot API does and yields entities.

Only Telegram's own tags are allowed, properly nested and closed; entities are limited to
&lt; &gt; &amp; &quot; and numeric references. Offsets are in UTF-16 code units, as the
Bot API counts them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}

# Tag name → entity type; span and a are resolved from their attributes.
TAG_ENTITIES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}

# Entities that cannot hold one another (Bot API "formatting options").
_EXCLUSIVE = {"text_link", "text_mention", "code", "pre", "custom_emoji"}
_VERBATIM = {"code", "pre"}

# A lone "&" that starts no entity is literal text for Telegram; html.parser would drop it
# at the end of the input, so it is escaped before parsing.
_BARE_AMPERSAND = re.compile(r"&(?!#?[0-9A-Za-z]+;)")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; the message follows the Bot API's wording."""


@dataclass(frozen=True)
class FormattedText:
    """Visible text and its entities, as the Bot API returns them in a Message."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Length as Telegram counts it: UTF-16 code units."""
        return utf16_len(self.text)


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units (what Telegram's limits and offsets use)."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> FormattedText:
    """Parse `source` as Telegram HTML or raise EntityParseError."""
    parser = _TelegramHTMLParser(_BARE_AMPERSAND.sub("&amp;", source))
    return parser.run()


@dataclass
class _Open:
    tag: str
    kind: str
    offset: int
    extra: dict[str, str] = field(default_factory=dict)
    has_content: bool = False


class _TelegramHTMLParser(HTMLParser):
    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=False)
        self._source = source
        self._line_starts = [0] + [m.end() for m in re.finditer("\n", source)]
        self._parts: list[str] = []
        self._offset = 0
        self._stack: list[_Open] = []
        self._entities: list[dict[str, Any]] = []

    def run(self) -> FormattedText:
        self.feed(self._source)
        self.close()
        if self._stack:
            tag = self._stack[-1].tag
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{tag}"')
        self._entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return FormattedText("".join(self._parts), self._entities)

    # --- tags -------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "code" and self._stack and self._stack[-1].kind == "pre":
            self._open_code_in_pre(attributes)
            return
        kind, extra = self._entity_kind(tag, attributes)
        self._check_nesting(tag, kind)
        self._stack.append(_Open(tag, kind, self._offset, extra))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._unsupported(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self._stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {self._byte_offset()}")
        top = self._stack.pop()
        if top.tag != tag:
            raise EntityParseError(
                f"Unmatched end tag at byte offset {self._byte_offset()}, "
                f'expected "</{top.tag}>", found "</{tag}>"'
            )
        if top.kind != "language":
            self._close_entity(top)

    def _open_code_in_pre(self, attributes: dict[str, str]) -> None:
        pre = self._stack[-1]
        language = attributes.get("class", "")
        if language.startswith("language-") and not pre.has_content:
            pre.extra["language"] = language.removeprefix("language-")
        # The inner code only carries the language; pre is the entity.
        self._stack.append(_Open("code", "language", self._offset))

    def _entity_kind(self, tag: str, attributes: dict[str, str]) -> tuple[str, dict[str, str]]:
        if tag not in TAG_ENTITIES:
            self._unsupported(tag)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            self._unsupported(tag)
        if tag == "a":
            href = attributes.get("href", "")
            if href.startswith("tg://user?id="):
                return "text_mention", {"user_id": href.removeprefix("tg://user?id=")}
            return "text_link", {"url": href}
        if tag == "blockquote" and "expandable" in attributes:
            return "expandable_blockquote", {}
        if tag == "tg-emoji":
            emoji_id = attributes.get("emoji-id", "")
            if not emoji_id.isdigit():
                raise EntityParseError("Custom emoji entity must contain a valid custom emoji")
            return "custom_emoji", {"custom_emoji_id": emoji_id}
        return TAG_ENTITIES[tag], {}

    def _check_nesting(self, tag: str, kind: str) -> None:
        for outer in self._stack:
            if outer.kind in _VERBATIM or outer.kind == "language":
                self._unsupported(tag, f' inside "{outer.tag}"')
            if "blockquote" in kind and "blockquote" in outer.kind:
                self._unsupported(tag, " inside another blockquote")
            if kind in _EXCLUSIVE and outer.kind in _EXCLUSIVE:
                self._unsupported(tag, f' inside "{outer.tag}"')

    def _close_entity(self, top: _Open) -> None:
        length = self._offset - top.offset
        if length == 0:
            return  # Telegram drops empty entities
        entity: dict[str, Any] = {"type": top.kind, "offset": top.offset, "length": length}
        if top.kind == "text_mention":
            user_id = int(top.extra["user_id"]) if top.extra["user_id"].isdigit() else 0
            entity["user"] = {"id": user_id, "is_bot": False, "first_name": ""}
        else:
            entity.update(top.extra)
        self._entities.append(entity)

    def _unsupported(self, tag: str, where: str = "") -> None:
        raise EntityParseError(
            f'Unsupported start tag "{tag}"{where} at byte offset {self._byte_offset()}'
        )

    # --- text -------------------------------------------------------------------------

    def handle_data(self, data: str) -> None:
        if "<" in data:
            self._unsupported("")
        self._append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in NAMED_ENTITIES:
            raise EntityParseError(
                f'Unsupported HTML entity "&{name};" at byte offset {self._byte_offset()}'
            )
        self._append(NAMED_ENTITIES[name])

    def handle_charref(self, name: str) -> None:
        try:
            code = int(name[1:], 16) if name[:1] in "xX" else int(name)
            char = chr(code)
        except (ValueError, OverflowError):
            char = ""
        if not char or code == 0:
            raise EntityParseError(
                f"Invalid character reference at byte offset {self._byte_offset()}"
            )
        self._append(char)

    def handle_comment(self, data: str) -> None:
        self._unsupported("!--")

    def handle_decl(self, decl: str) -> None:
        self._unsupported("!")

    def handle_pi(self, data: str) -> None:
        self._unsupported("?")

    def unknown_decl(self, data: str) -> None:
        self._unsupported("!")

    def _append(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        self._offset += utf16_len(text)
        for open_tag in self._stack:
            open_tag.has_content = True

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        index = self._line_starts[line - 1] + column
        return len(self._source[:index].encode("utf-8"))
