"""Article pages: main text, title and date through trafilatura; feed discovery from
`<link rel="alternate">`. Pure: bytes in, dataclasses out."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urljoin, urlsplit

import trafilatura
from lxml import etree
from lxml import html as lxml_html

from knowledge.sources.html_text import html_to_text, one_line
from knowledge.text import normalise_whitespace
from knowledge.urls import canonical_url, is_web_url

__all__ = ["FEED_TYPES", "PageArticle", "decode_html", "extract_article", "feed_links"]

log = logging.getLogger(__name__)

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "application/xml",
        "text/xml",
        "application/x.atom+xml",
        "application/x-atom+xml",
        "application/x-rss+xml",
    }
)
MIN_ARTICLE_WORDS = 25  # fewer words than this is a stub, a paywall or a navigation page
MIN_CJK_CHARS = 80  # the same for scripts written without spaces
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
MAX_TITLE_CHARS = 300


@dataclass(frozen=True, slots=True)
class PageArticle:
    """The article found on a page."""

    url: str  # canonical when it is an http(s) URL
    title: str
    text: str  # plain text, paragraphs separated by blank lines
    published: datetime | None  # aware UTC (midnight when the page gives only a day)


_SITE_SEPARATORS = (" | ", " - ", " — ", " – ", " :: ", " · ")
_ALNUM = re.compile(r"[^0-9a-z]+")


def _squash(text: str) -> str:
    return _ALNUM.sub("", text.casefold())


def strip_site_name(title: str, sitename: str | None, url: str) -> str:
    """The headline without a trailing " | Outlet" or " - Outlet" naming the site."""
    host = _squash((urlsplit(url).hostname or "").removeprefix("www."))
    site = _squash(sitename or "")
    for _ in range(2):
        cut = max((title.rfind(sep), sep) for sep in _SITE_SEPARATORS)
        index, separator = cut
        if index <= 0:
            break
        head, tail = title[:index].strip(), _squash(title[index + len(separator) :])
        if len(head.split()) < 3 or not tail:
            break
        named = tail == site or (len(site) >= 3 and site in tail)
        if named or (len(tail) >= 4 and (tail in host or (site and tail in site))):
            title = head
        else:
            break
    return title


def _as_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    when = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return when if when <= datetime.now(UTC) else None


def extract_article(
    html: bytes | str,
    url: str,
    *,
    favor_precision: bool = False,
    favor_recall: bool = False,
) -> PageArticle | None:
    """The main text, title and date of an article page; None when it has no article text."""
    if not html or (isinstance(html, bytes) and not html.strip()):
        return None
    if isinstance(html, str):
        html = _XML_DECLARATION.sub("", html)
    try:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            favor_precision=favor_precision,
            favor_recall=favor_recall,
        )
    except Exception as exc:  # trafilatura on hostile HTML: one page never takes a poll down
        log.warning("extraction failed for %s: %s: %s", url, type(exc).__name__, exc)
        return None
    if document is None or isinstance(document, dict):
        return None
    raw = document.text or ""
    # trafilatura puts one paragraph per line; its text is already plain, but pass it through
    # the same cleaner as feeds so nothing tag-shaped survives.
    text = html_to_text("\n\n".join(line for line in raw.split("\n") if line.strip()))
    if len(text.split()) < MIN_ARTICLE_WORDS and len(_CJK.findall(text)) < MIN_CJK_CHARS:
        return None
    title = one_line(html_to_text(document.title or ""))
    title = strip_site_name(title, document.sitename, url)[:MAX_TITLE_CHARS]
    first, _, rest = text.partition("\n\n")
    if title and rest and one_line(first).casefold() == title.casefold():
        text = rest  # the headline repeated as the first paragraph
    if not title:
        title = first[:100]
    return PageArticle(
        url=canonical_url(url) if is_web_url(url) else url,
        title=title,
        text=normalise_whitespace(text),
        published=_as_date(document.date),
    )


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def decode_html(content: bytes, charset: str | None) -> bytes | str:
    """The page as text when the HTTP header names a charset that decodes it (the header
    outranks a <meta> tag); otherwise the bytes, for the parser to sniff."""
    if not charset or content[:3] == b"\xef\xbb\xbf" or content[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return content  # a byte-order mark outranks the header
    try:
        return content.decode(charset)
    except (LookupError, UnicodeDecodeError):
        return content


def _document(html: bytes | str) -> lxml_html.HtmlElement | None:
    if not html:
        return None
    if isinstance(html, str):
        html = _XML_DECLARATION.sub("", html)  # lxml refuses str with an encoding declaration
    try:
        return lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def feed_links(html: bytes | str, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the feeds a page advertises with <link rel="alternate">."""
    root = _document(html)
    if root is None:
        return []
    base = base_url
    for element in root.iter("base"):
        href = element.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    found: list[str] = []
    for element in root.iter("link"):
        rel = {part.lower() for part in (element.get("rel") or "").split()}
        kind = (element.get("type") or "").split(";")[0].strip().lower()
        href = (element.get("href") or "").strip()
        if not href or "alternate" not in rel or kind not in FEED_TYPES:
            continue
        try:
            absolute = urljoin(base, href)
        except ValueError:
            continue
        if is_web_url(absolute) and absolute not in found:
            found.append(absolute)
    return found
