"""The polling schedule: pure arithmetic (intervals, feed TTL, backoff, Retry-After, pause)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from knowledge.models import Source
from knowledge.settings import Settings
from knowledge.sources.feeds import FeedItem
from knowledge.sources.poll import item_key, poll_interval, retry_delay, short, should_pause

ADDED = datetime(2026, 11, 30, tzinfo=UTC)


def source(**fields: object) -> Source:
    return Source(
        id=1, url="https://example.org/feed", kind="feed", title="", added_at=ADDED, **fields
    )  # type: ignore[arg-type]


def test_interval_is_the_setting_unless_the_source_or_its_ttl_says_longer(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(poll_interval_minutes=30, poll_max_backoff_hours=24)
    assert poll_interval(settings, source()) == timedelta(minutes=30)
    assert poll_interval(settings, source(interval_minutes=10)) == timedelta(minutes=10)
    assert poll_interval(settings, source(ttl_minutes=120)) == timedelta(minutes=120)
    assert poll_interval(settings, source(ttl_minutes=5)) == timedelta(minutes=30)
    assert poll_interval(settings, source(), ttl_minutes=60) == timedelta(minutes=60)
    # a feed asking for a week is polled at least once a BRIEF_POLL_MAX_BACKOFF_HOURS
    assert poll_interval(settings, source(ttl_minutes=7 * 24 * 60)) == timedelta(hours=24)


def test_backoff_doubles_per_failure_up_to_the_cap() -> None:
    interval, cap = timedelta(minutes=30), timedelta(hours=24)
    delays = [retry_delay(interval, n, None, cap) for n in range(1, 9)]
    assert delays[:5] == [timedelta(minutes=m) for m in (30, 60, 120, 240, 480)]
    assert delays[-1] == cap
    assert retry_delay(interval, 10_000, None, cap) == cap


def test_retry_after_wins_when_longer_but_not_past_the_cap() -> None:
    interval, cap = timedelta(minutes=30), timedelta(hours=24)
    assert retry_delay(interval, 1, 7200, cap) == timedelta(hours=2)
    assert retry_delay(interval, 1, 10, cap) == timedelta(minutes=30)
    assert retry_delay(interval, 1, 10 * 86400, cap) == cap


def test_pause_after_n_failures() -> None:
    assert [should_pause(n, 3) for n in (1, 2, 3, 4)] == [False, False, True, True]


def test_item_key_prefers_guid_then_link_then_content() -> None:
    def item(guid: str | None, url: str | None, title: str = "t") -> FeedItem:
        return FeedItem(
            guid=guid, url=url, title=title, text="x", summary_only=False, published=None
        )

    assert item_key(item("g1", "https://a.example/1")) == "g1"
    assert item_key(item(None, "https://a.example/1")) == "https://a.example/1"
    anonymous = item_key(item(None, None))
    assert anonymous.startswith("sha256:")
    assert anonymous == item_key(item(None, None)) != item_key(item(None, None, title="u"))


def test_short_delays() -> None:
    assert short(timedelta(seconds=45)) == "45 s"
    assert short(timedelta(minutes=30)) == "30 min"
    assert short(timedelta(hours=2)) == "2 h"
    assert short(timedelta(hours=2.5)) == "2.5 h"
