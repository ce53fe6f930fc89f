"""What a URL is: a feed, a site page that advertises a feed, or an article page.

Parsing and extraction are CPU work: they run in a thread, never on the event loop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from knowledge.errors import NotAFeedError, SourceError
from knowledge.sources.feeds import FeedItem, ParsedFeed, looks_like_html, parse_feed
from knowledge.sources.fetch import FEED_ACCEPT, PAGE_ACCEPT, Fetched, Fetcher
from knowledge.sources.pages import PageArticle, decode_html, extract_article, feed_links
from knowledge.urls import canonical_url

__all__ = ["MAX_DISCOVERED_FEEDS", "Probe", "fill_full_text", "parse_fetched", "probe"]

log = logging.getLogger(__name__)

MAX_DISCOVERED_FEEDS = 3  # advertised feeds tried, in page order


@dataclass(frozen=True, slots=True)
class Probe:
    """What fetching a URL once found."""

    kind: str  # "feed" | "page"
    url: str  # the URL to store: the discovered feed's, or the permanent redirect's target
    title: str
    items: list[FeedItem]
    fetched: Fetched
    feed: ParsedFeed | None = None  # the parsed feed (kind "feed"): ttl, site link, format
    discovered_from: str | None = None  # the page that advertised the feed
    notes: list[str] = field(default_factory=list)  # why advertised feeds were skipped


def _page_item(article: PageArticle) -> FeedItem:
    return FeedItem(
        guid=None,
        url=canonical_url(article.url),
        title=article.title,
        text=article.text,
        summary_only=False,
        published=article.published,
    )


async def parse_fetched(fetched: Fetched, url: str) -> ParsedFeed:
    """Parse fetched bytes as a feed, in a thread; NotAFeedError when they are not one."""
    return await asyncio.to_thread(
        parse_feed,
        fetched.content,
        fetched.final_url or url,
        fetched.content_type,
        fetched.charset,
    )


async def probe(
    fetcher: Fetcher, url: str, *, full_text: bool = False, max_full_text: int = 20
) -> Probe:
    """Fetch `url` once and decide what it is; raises SourceError subclasses with the reason."""
    fetched = await fetcher.get(url, accept=FEED_ACCEPT)
    stored_url = fetched.permanent_redirect or url
    if fetched.not_modified:
        raise SourceError(f"{url} answered 304 Not Modified to a request without validators")
    feed_error: NotAFeedError | None = None
    try:
        feed = await parse_fetched(fetched, url)
    except NotAFeedError as exc:
        feed_error = exc
    else:
        items = await _maybe_full_text(fetcher, feed.items, full_text, max_full_text)
        return Probe("feed", stored_url, feed.title, items, fetched, feed=feed)
    if not looks_like_html(fetched.content) and fetched.content_type not in (
        "text/html",
        "application/xhtml+xml",
    ):
        raise feed_error
    notes: list[str] = []
    page = decode_html(fetched.content, fetched.charset)
    links = await asyncio.to_thread(feed_links, page, fetched.final_url)
    for link in links[:MAX_DISCOVERED_FEEDS]:
        try:
            feed_fetched = await fetcher.get(link, accept=FEED_ACCEPT)
            feed = await parse_fetched(feed_fetched, link)
        except SourceError as exc:
            notes.append(f"{link}: {exc}")
            log.info("advertised feed %s skipped: %s", link, exc)
            continue
        items = await _maybe_full_text(fetcher, feed.items, full_text, max_full_text)
        return Probe(
            "feed",
            feed_fetched.permanent_redirect or link,
            feed.title,
            items,
            feed_fetched,
            feed=feed,
            discovered_from=url,
            notes=notes,
        )
    article = await asyncio.to_thread(extract_article, page, fetched.final_url)
    if article is None:
        reason = "an HTML page with no feed link and no article text"
        if notes:
            reason += "; advertised feeds failed: " + "; ".join(notes)
        raise NotAFeedError(reason)
    return Probe("page", stored_url, article.title, [_page_item(article)], fetched, notes=notes)


async def _maybe_full_text(
    fetcher: Fetcher, items: list[FeedItem], full_text: bool, limit: int
) -> list[FeedItem]:
    if not full_text or limit <= 0:
        return items
    return await fill_full_text(fetcher, items, limit)


async def _full_text_of(fetcher: Fetcher, item: FeedItem) -> FeedItem:
    assert item.url is not None
    try:
        fetched = await fetcher.get(item.url, accept=PAGE_ACCEPT)
        if fetched.not_modified:
            return item
        page = decode_html(fetched.content, fetched.charset)
        article = await asyncio.to_thread(extract_article, page, fetched.final_url)
    except SourceError as exc:
        log.info("full text of %s not fetched (keeping the teaser): %s", item.url, exc)
        return item
    if article is None or len(article.text) <= len(item.text):
        return item
    return item.with_text(article.text, summary_only=False)


async def fill_full_text(fetcher: Fetcher, items: list[FeedItem], limit: int) -> list[FeedItem]:
    """Replace the teasers of up to `limit` summary-only items with their pages' text; an item
    whose page fails keeps its teaser. The fetcher's per-host cap bounds the concurrency."""
    chosen = [i for i, item in enumerate(items) if item.summary_only and item.url][: max(0, limit)]
    if not chosen:
        return items
    results = await asyncio.gather(
        *(_full_text_of(fetcher, items[i]) for i in chosen), return_exceptions=True
    )
    filled = list(items)
    for index, result in zip(chosen, results, strict=True):
        if isinstance(result, FeedItem):
            filled[index] = result
        elif isinstance(result, BaseException) and not isinstance(result, Exception):
            raise result
        else:
            log.warning("full text of %s failed: %r", items[index].url, result)
    return filled
