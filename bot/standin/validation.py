"""Telegram's rules for what a bot sends: HTML parse mode, inline keyboards, user entities.

Errors read like the real server's (``Bad Request: can't parse entities: ...``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.standin.values import MAX_CALLBACK_DATA_BYTES, BotAPIError, JSONDict


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit Telegram counts in."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


class HTMLParseError(ValueError):
    """Text is not valid under Telegram's HTML parse mode."""


_HTML_TAGS: dict[str, str] = {
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
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9A-Fa-f]{1,8})|([A-Za-z][A-Za-z0-9]*));")
_UNQUOTED_VALUE_RE = re.compile(r"[A-Za-z0-9.\-_:/?#=%+~@!$,;]*")


@dataclass
class _OpenTag:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output text
    byte_offset: int
    language: str | None = None


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(text: str, index: int, strict: bool) -> tuple[str, int]:
    """Decode the character reference at ``text[index] == '&'``; return (char(s), next index)."""
    match = _ENTITY_RE.match(text, index)
    if match is None:
        if strict:
            raise HTMLParseError(
                f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped '
                'as "&amp;"'
            )
        return "&", index + 1
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            if strict:
                raise HTMLParseError(
                    f'Unsupported HTML entity "&{name};" at byte offset '
                    f"{_byte_offset(text, index)}; only &lt; &gt; &amp; &quot; and numeric "
                    "character references are supported"
                )
            return "&", index + 1
        return _NAMED_ENTITIES[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        if strict:
            raise HTMLParseError(
                f"Invalid numeric character reference at byte offset {_byte_offset(text, index)}"
            )
        return "&", index + 1
    return chr(code), match.end()


def _unescape_attribute(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        if value[i] == "&":
            decoded, i = _decode_entity(value, i, strict=False)
            out.append(decoded)
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _parse_attributes(text: str, j: int, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes from ``text[j:]`` up to the closing ``>``; return (attrs, index of >)."""
    n = len(text)
    attrs: dict[str, str] = {}

    def unclosed() -> HTMLParseError:
        return HTMLParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")

    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise unclosed()
        if text[j] == ">":
            return attrs, j
        k = j
        while k < n and not text[k].isspace() and text[k] not in "=>":
            k += 1
        if k >= n:
            raise unclosed()
        name = text[j:k].lower()
        if not name:
            raise HTMLParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset '
                f"{_byte_offset(text, begin)}"
            )
        while k < n and text[k].isspace():
            k += 1
        if k >= n:
            raise unclosed()
        if text[k] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                j = k
                continue
            raise HTMLParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" at byte '
                f"offset {_byte_offset(text, begin)}"
            )
        k += 1
        while k < n and text[k].isspace():
            k += 1
        if k >= n:
            raise unclosed()
        quote = text[k]
        if quote in "\"'":
            end = text.find(quote, k + 1)
            if end < 0:
                raise unclosed()
            value = _unescape_attribute(text[k + 1 : end])
            k = end + 1
        else:
            match = _UNQUOTED_VALUE_RE.match(text, k)
            assert match is not None  # the pattern matches the empty string
            if not match.group(0):
                raise HTMLParseError(
                    f'Expected quote in declaration of an attribute of the tag "{tag}" at byte '
                    f"offset {_byte_offset(text, begin)}"
                )
            value = _unescape_attribute(match.group(0))
            k = match.end()
        attrs[name] = value
        j = k


def _close_tag(top: _OpenTag, end: int, entities: list[JSONDict], stack: list[_OpenTag]) -> None:
    if top.tag == "code" and stack and stack[-1].tag == "pre":
        css = top.attrs.get("class", "")
        if css.startswith("language-") and len(css) > len("language-"):
            stack[-1].language = css[len("language-") :]
            return
    length = end - top.start
    if length <= 0:
        return
    entity: JSONDict = {"type": _HTML_TAGS[top.tag], "offset": top.start, "length": length}
    if top.tag == "a":
        entity["url"] = top.attrs["href"]
    elif top.tag == "pre" and top.language:
        entity["language"] = top.language
    elif top.tag == "blockquote" and "expandable" in top.attrs:
        entity["type"] = "expandable_blockquote"
    elif top.tag == "tg-emoji":
        entity["custom_emoji_id"] = top.attrs["emoji-id"]
    entities.append(entity)


def parse_html(text: str) -> tuple[str, list[JSONDict]]:
    """Parse ``text`` with Telegram's HTML rules; return (plain text, entities).

    Entity offsets and lengths are in UTF-16 code units. Raises :class:`HTMLParseError` with the
    reason Telegram would give after ``"Bad Request: can't parse entities: "``.
    """
    out: list[str] = []
    pos = 0  # UTF-16 length of out so far
    stack: list[_OpenTag] = []
    entities: list[JSONDict] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            decoded, i = _decode_entity(text, i, strict=True)
            out.append(decoded)
            pos += utf16_len(decoded)
            continue
        if ch != "<":
            out.append(ch)
            pos += 2 if ord(ch) > 0xFFFF else 1
            i += 1
            continue
        begin = i
        if text.startswith("</", i):
            end = text.find(">", i)
            if end < 0:
                raise HTMLParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            name = text[i + 2 : end].strip().lower()
            if not stack:
                raise HTMLParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            top = stack.pop()
            if name and name != top.tag:
                raise HTMLParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, expected "
                    f'"</{top.tag}>", found "</{name}>"'
                )
            _close_tag(top, pos, entities, stack)
            i = end + 1
            continue
        j = i + 1
        while j < n and not text[j].isspace() and text[j] != ">":
            j += 1
        if j >= n:
            raise HTMLParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        tag = text[i + 1 : j].lower()
        if tag not in _HTML_TAGS:
            raise HTMLParseError(
                f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs, j = _parse_attributes(text, j, tag, begin)
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise HTMLParseError('Tag "span" must have class "tg-spoiler"')
        if tag == "a" and not attrs.get("href"):
            raise HTMLParseError(
                f'Tag "a" at byte offset {_byte_offset(text, begin)} must have attribute "href"'
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id"):
            raise HTMLParseError('Custom emoji entity must contain a tag "emoji-id"')
        stack.append(_OpenTag(tag=tag, attrs=attrs, start=pos, byte_offset=_byte_offset(text, i)))
        i = j + 1
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Strip surrounding whitespace like Telegram does, moving entities with the text."""
    stripped = text.strip()
    lead = utf16_len(text) - utf16_len(text.lstrip())
    total = utf16_len(stripped)
    out: list[JSONDict] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            out.append({**entity, "offset": start, "length": end - start})
    return stripped, out


_USERNAME_RE = re.compile(r"(?<![\w@/])@([A-Za-z][A-Za-z0-9_]{2,31})\b")
_COMMAND_RE = re.compile(r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?")

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def validate_markup(markup: Any) -> None:
    """Validate an inline keyboard like Telegram does (other markups pass unchecked)."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise BotAPIError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise BotAPIError(
            400, "Bad Request: can't parse inline keyboard button: field must be an array"
        )
    if sum(len(row) for row in rows) > 100:
        raise BotAPIError(400, "Bad Request: reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict):
                raise BotAPIError(400, "Bad Request: can't parse inline keyboard button")
            if not isinstance(button.get("text"), str) or not button["text"]:
                raise BotAPIError(400, "Bad Request: inline keyboard button text is empty")
            if not any(action in button for action in _BUTTON_ACTIONS):
                raise BotAPIError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                size = len(data.encode("utf-8")) if isinstance(data, str) else 0
                if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
                    raise BotAPIError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not re.match(r"(?i)(https?|tg)://\S+$", url):
                    raise BotAPIError(400, "Bad Request: BUTTON_URL_INVALID")


def auto_entities(text: str) -> list[JSONDict]:
    """``bot_command`` and ``mention`` entities, as Telegram computes them for users' text."""
    entities: list[JSONDict] = []
    command_spans: list[tuple[int, int]] = []
    for match in _COMMAND_RE.finditer(text):
        command_spans.append(match.span())
        entities.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    for match in _USERNAME_RE.finditer(text):
        if any(start <= match.start() < end for start, end in command_spans):
            continue
        entities.append(
            {
                "type": "mention",
                "offset": utf16_len(text[: match.start()]),
                "length": utf16_len(match.group(0)),
            }
        )
    entities.sort(key=lambda e: e["offset"])
    return entities
