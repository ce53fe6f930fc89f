"""Feeds to items: RSS 0.9x/1.0/2.0 and Atom through feedparser, JSON Feed (and RSS-in-JSON)
read here (feedparser 6.0 does not). Pure: bytes in, a ParsedFeed out."""

from __future__ import annotations

import calendar
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from knowledge.errors import NotAFeedError
from knowledge.ingest import Draft
from knowledge.records import MAX_TEXT_CHARS
from knowledge.sources.html_text import html_to_text, one_line
from knowledge.urls import canonical_url, is_web_url

__all__ = ["FeedItem", "NotAFeedError", "ParsedFeed", "looks_like_html", "parse_feed"]

log = logging.getLogger(__name__)

MAX_ITEMS = 5000
MAX_TITLE_CHARS = 300  # under records.MAX_TITLE_CHARS
# An entry whose text is shorter than this (in words), or that ends in a "read more" marker,
# is a teaser: the article page holds the story.
TEASER_WORDS = 120
_TEASER_END = re.compile(
    r"(\u2026|\.\.\.|\[\u2026\]|\[\.\.\.\]|read more\W*|continue reading\W*|"
    r"read the full (story|article)\W*|more\W*)$",
    re.IGNORECASE,
)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.I | re.S)
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:rdf|channel)\b", re.IGNORECASE)
_FEED_KINDS = {"rss10": "rdf", "rss090": "rdf", "atom": "atom", "cdf": "rss"}
_FUTURE_SLACK = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed (or the one article of a page), cleaned."""

    guid: str | None
    url: str | None  # absolute http(s), else None
    title: str
    text: str  # plain text, paragraphs separated by blank lines
    summary_only: bool  # only a teaser: the page has the full text
    published: datetime | None  # aware UTC

    def to_draft(self, source_name: str, source_id: int | None = None) -> Draft:
        """The ingestion draft for this item."""
        return Draft(
            url=self.url,
            title=self.title[:MAX_TITLE_CHARS],
            text=self.text[:MAX_TEXT_CHARS],
            source=source_name,
            published=self.published,
            source_id=source_id,
            guid=self.guid,
        )

    def with_text(self, text: str, *, summary_only: bool = False) -> FeedItem:
        """A copy with the full text in place of the teaser."""
        return replace(self, text=text, summary_only=summary_only)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed: its title, kind, TTL, site link and items."""

    title: str
    kind: str  # "rss" | "atom" | "json" | "rdf"
    ttl_minutes: int | None  # <ttl>, else sy:updatePeriod / sy:updateFrequency
    link: str | None
    items: list[FeedItem] = field(default_factory=list)
    version: str = ""  # feedparser's version string (rss20, atom10, ...) or json1/json11
    bozo: str | None = None  # what feedparser found wrong when it still read the feed
    skipped: int = 0  # entries with no title, text or link: nothing to ingest


def looks_like_html(content: bytes) -> bool:
    """True when the bytes start like an HTML document (not a feed)."""
    head = content[:2048].lstrip(b"\xef\xbb\xbf")
    if _HTML_START.match(head):
        return True
    return b"<html" in head.lower() and not _FEED_ROOT.search(head)


def _looks_like_json(content: bytes, content_type: str | None) -> bool:
    head = content[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        return True
    return bool(content_type and "json" in content_type and not head.startswith(b"<"))


def _web_url(value: object, base: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        absolute = urljoin(base, value.strip())
    except ValueError:
        return None
    return canonical_url(absolute) if is_web_url(absolute) else None


def _aware(when: datetime | None, now: datetime) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    if when > now + _FUTURE_SLACK or when.year < 1970:
        return None  # a clock or template error; an undated item beats a wrong date
    return when


def _from_struct(value: object, now: datetime) -> datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    try:
        return _aware(datetime.fromtimestamp(calendar.timegm(value), UTC), now)
    except (OverflowError, ValueError, OSError):
        return None


def _from_string(value: object, now: datetime) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")), now)
    except ValueError:
        pass
    try:
        return _aware(parsedate_to_datetime(text), now)
    except (TypeError, ValueError, IndexError):
        return None


def _title_from_text(text: str) -> str:
    first = text.split("\n", 1)[0]
    if len(first) <= 100:
        return first
    cut = first[:100].rsplit(" ", 1)[0]
    return cut + "…"


def _is_teaser(text: str, had_full_content: bool) -> bool:
    if not text:
        return True
    if _TEASER_END.search(text[-40:].rstrip()):  # the tail only: the pattern is end-anchored
        return True
    return not had_full_content and len(text.split()) < TEASER_WORDS


def _item(
    *,
    guid: object,
    url: str | None,
    title_markup: str,
    bodies: list[str],
    summary: str,
    published: datetime | None,
) -> FeedItem | None:
    title = one_line(html_to_text(title_markup))[:MAX_TITLE_CHARS]
    texts = [html_to_text(body) for body in bodies]
    full = max(texts, key=len, default="")
    teaser = html_to_text(summary)
    text = full if len(full) >= len(teaser) else teaser
    if not title and text:
        title = _title_from_text(text)
    if not title and not text and not url:
        return None
    guid_text = str(guid).strip()[:1000] if guid not in (None, "") else None
    return FeedItem(
        guid=guid_text or None,
        url=url,
        title=title or (url or ""),
        text=text,
        summary_only=_is_teaser(text, had_full_content=bool(full) and len(full) >= len(teaser)),
        published=published,
    )


_SY_PERIOD_MINUTES = {
    "hourly": 60,
    "daily": 1440,
    "weekly": 10080,
    "monthly": 43200,
    "yearly": 525600,
}


def _sy_ttl(meta: Any) -> int | None:
    """Minutes between updates from the RSS syndication module (sy:updatePeriod/Frequency)."""
    period = str(meta.get("sy_updateperiod", "") or "").strip().lower()
    if period not in _SY_PERIOD_MINUTES:
        return None
    try:
        frequency = max(1, int(str(meta.get("sy_updatefrequency", "1") or "1").strip()))
    except ValueError:
        frequency = 1
    return _ttl(_SY_PERIOD_MINUTES[period] // frequency)


def _ttl(value: object) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if 0 < minutes <= 60 * 24 * 7 else None


# --- feedparser (XML) ---------------------------------------------------------------------------


def _entry_item(entry: Any, base: str, now: datetime) -> FeedItem | None:
    link = _web_url(entry.get("link"), base)
    if link is None:
        for candidate in entry.get("links", []) or []:
            if candidate.get("rel", "alternate") == "alternate":
                link = _web_url(candidate.get("href"), base)
                if link:
                    break
    guid = entry.get("id")
    if link is None and entry.get("guidislink"):
        link = _web_url(guid, base)
    bodies = [str(c.get("value", "") or "") for c in entry.get("content", []) or []]
    # dict.get, not entry.get: FeedParserDict maps updated_parsed to published_parsed with a
    # DeprecationWarning when only one is present.
    published = (
        _from_struct(dict.get(entry, "published_parsed"), now)
        or _from_struct(dict.get(entry, "updated_parsed"), now)
        or _from_struct(dict.get(entry, "created_parsed"), now)
    )
    return _item(
        guid=guid,
        url=link,
        title_markup=str(entry.get("title", "") or ""),
        bodies=bodies,
        summary=str(entry.get("summary", "") or ""),
        published=published,
    )


def _guarded(read: Callable[..., FeedItem | None], *args: Any) -> FeedItem | None:
    """One entry's item; an entry that breaks our reading is skipped, never the feed."""
    try:
        return read(*args)
    except Exception as exc:  # one bad entry never loses the rest of the feed
        log.warning("feed entry skipped: %s: %s", type(exc).__name__, exc)
        return None


def _feedparser_kind(version: str) -> str:
    for prefix, kind in _FEED_KINDS.items():
        if version.startswith(prefix):
            return kind
    return "rss"


def _parse_xml(
    content: bytes, url: str, content_type: str | None, charset: str | None
) -> ParsedFeed:
    # No content-location: feedparser would resolve relative guids against it, and a guid
    # must not change when the feed's URL does. Links are resolved against `url` below.
    headers: dict[str, str] = {}
    if charset:
        # Only a declared charset goes to feedparser: a bare text/xml would make it assume
        # us-ascii (RFC 3023) and misread every UTF-8 feed served that way.
        headers["content-type"] = f"application/xml; charset={charset}"
    try:
        # Our own cleaner turns markup into plain text and drops script, style, iframe and
        # object elements with their content; feedparser's sanitizer would keep the inner
        # text of the elements it removes (an iframe's fallback text, say).
        parsed = feedparser.parse(
            content, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser is robust, but one feed never takes a poll down
        raise NotAFeedError(f"the feed could not be read: {type(exc).__name__}: {exc}") from None
    entries = parsed.get("entries", []) or []
    version = str(parsed.get("version", "") or "")
    bozo = parsed.get("bozo_exception") if parsed.get("bozo") else None
    bozo_text = f"{type(bozo).__name__}: {bozo}" if bozo is not None else None
    if not version and looks_like_html(content):
        # feedparser's loose parser finds "entries" in HTML that happens to use <entry> or
        # <item> tags: without a feed version, an HTML document is a page.
        raise NotAFeedError("this is an HTML page, not a feed")
    if not entries and not version:
        if bozo_text:
            raise NotAFeedError(f"not a readable feed ({_short(bozo_text)})")
        raise NotAFeedError("not a feed: no RSS, Atom or JSON Feed structure found")
    meta = parsed.get("feed", {}) or {}
    now = datetime.now(UTC)
    base = url
    read = [_guarded(_entry_item, e, base, now) for e in entries[:MAX_ITEMS]]
    items = [item for item in read if item is not None]
    return ParsedFeed(
        title=one_line(html_to_text(str(meta.get("title", "") or ""))),
        kind=_feedparser_kind(version),
        ttl_minutes=_ttl(meta.get("ttl")) or _sy_ttl(meta),
        link=_web_url(meta.get("link"), base),
        items=items,
        version=version,
        bozo=bozo_text,
        skipped=len(read) - len(items),
    )


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- JSON Feed and RSS-in-JSON --------------------------------------------------------------


def _json_items(
    raw_items: list[Any],
    parse: Callable[[dict[str, Any], str, datetime], FeedItem | None],
    base: str,
    now: datetime,
) -> tuple[list[FeedItem], int]:
    """The items of a JSON document that parse (each guarded), and how many were skipped."""
    items: list[FeedItem] = []
    for raw in raw_items[:MAX_ITEMS]:
        item = _guarded(parse, raw, base, now) if isinstance(raw, dict) else None
        if item is not None:
            items.append(item)
    return items, len(raw_items[:MAX_ITEMS]) - len(items)


def _json_feed(data: dict[str, Any], url: str) -> ParsedFeed:
    now = datetime.now(UTC)
    base = _web_url(data.get("feed_url"), url) or url
    raw_items = data.get("items")
    if not isinstance(raw_items, list):
        raise NotAFeedError("a JSON Feed without an items list")
    items, skipped = _json_items(raw_items, _json_item, base, now)
    version = str(data.get("version", ""))
    return ParsedFeed(
        title=one_line(html_to_text(str(data.get("title", "") or ""))),
        kind="json",
        ttl_minutes=None,
        link=_web_url(data.get("home_page_url"), base),
        items=items,
        version="json11" if version.endswith("1.1") else "json1",
        skipped=skipped,
    )


def _json_item(raw: dict[str, Any], base: str, now: datetime) -> FeedItem | None:
    bodies = [str(raw[k]) for k in ("content_html", "content_text") if raw.get(k)]
    return _item(
        guid=raw.get("id"),
        url=_web_url(raw.get("url"), base) or _web_url(raw.get("external_url"), base),
        title_markup=str(raw.get("title", "") or ""),
        bodies=bodies,
        summary=str(raw.get("summary", "") or ""),
        published=_from_string(raw.get("date_published"), now)
        or _from_string(raw.get("date_modified"), now),
    )


def _rss_item(raw: dict[str, Any], url: str, now: datetime) -> FeedItem | None:
    guid = raw.get("guid")
    if isinstance(guid, dict):
        guid = guid.get("#value") or guid.get("value")
    return _item(
        guid=guid,
        url=_web_url(raw.get("link"), url),
        title_markup=str(raw.get("title", "") or ""),
        bodies=[],
        summary=str(raw.get("description", "") or ""),
        published=_from_string(raw.get("pubDate"), now),
    )


def _rss_in_json(channel: dict[str, Any], url: str) -> ParsedFeed:
    now = datetime.now(UTC)
    raw_items = channel.get("item", [])
    if isinstance(raw_items, dict):
        raw_items = [raw_items]
    if not isinstance(raw_items, list):
        raise NotAFeedError("an RSS-in-JSON document without items")
    items, skipped = _json_items(raw_items, _rss_item, url, now)
    return ParsedFeed(
        title=one_line(html_to_text(str(channel.get("title", "") or ""))),
        kind="json",
        ttl_minutes=_ttl(channel.get("ttl")),
        link=_web_url(channel.get("link"), url),
        items=items,
        version="rss-in-json",
        skipped=skipped,
    )


def _parse_json(content: bytes, url: str) -> ParsedFeed:
    try:
        data = json.loads(content.lstrip(b"\xef\xbb\xbf"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise NotAFeedError(f"not a readable JSON feed: {exc}") from None
    except RecursionError:
        raise NotAFeedError("not a readable JSON feed: nested too deeply") from None
    if isinstance(data, dict):
        version = str(data.get("version", ""))
        if version.startswith(("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")):
            return _json_feed(data, url)
        rss = data.get("rss")
        if isinstance(rss, dict) and isinstance(rss.get("channel"), dict):
            return _rss_in_json(rss["channel"], url)
        if isinstance(data.get("items"), list) and "title" in data:
            return _json_feed(data, url)  # a JSON Feed that forgot its version
    raise NotAFeedError("JSON, but not a JSON Feed (no jsonfeed.org version and items)")


def parse_feed(
    content: bytes,
    url: str,
    content_type: str | None = None,
    charset: str | None = None,
) -> ParsedFeed:
    """Parse feed bytes; raises NotAFeedError with the reason when they are not a feed.

    `content_type` is the HTTP media type (may include a charset parameter); `charset` the
    HTTP charset when known separately. Both only help: the bytes decide."""
    if content_type and ";" in content_type:
        media, _, params = content_type.partition(";")
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and not charset:
                charset = value.strip().strip("\"'") or None
        content_type = media.strip().lower()
    if not content.strip():
        raise NotAFeedError("the response is empty")
    if _looks_like_json(content, content_type):
        return _parse_json(content, url)
    return _parse_xml(content, url, content_type, charset)
