"""Digest arithmetic (pure): times, timezones, next run across DST, catch-up, composition."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest

from knowledge.digests import (
    DigestPool,
    PoolStory,
    check_timezone,
    clean_topic,
    due_on_start,
    last_run,
    local_date,
    next_run,
    parse_time,
    topic_key,
)
from knowledge.errors import BriefError, SubscriptionError
from knowledge.models import Article, Coverage, Subscription


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sub(at: str = "07:00", tz: str = "UTC", **kw: object) -> Subscription:
    return Subscription(chat_id=1, thread_id=None, at=parse_time(at), timezone=tz, **kw)  # type: ignore[arg-type]


# --- parsing ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [("07:30", time(7, 30)), ("7:05", time(7, 5)), ("19.00", time(19)), (" 0:00 ", time(0))],
)
def test_times_people_type(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize("text", ["25:00", "7", "07:60", "seven", "", "07:30pm", "-1:00"])
def test_a_bad_time_says_what_is_expected(text: str) -> None:
    with pytest.raises(SubscriptionError, match=r"Expected HH:MM, e\.g\. 07:30"):
        parse_time(text)


def test_subscription_error_is_a_brief_error() -> None:
    assert issubclass(SubscriptionError, BriefError)


def test_timezones_any_case() -> None:
    assert check_timezone("asia/manila") == "Asia/Manila"
    assert check_timezone("Australia/Sydney") == "Australia/Sydney"
    assert check_timezone("UTC") == "UTC"


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("Asia/Manilla", "Asia/Manila"),
        ("Manila", "Asia/Manila"),
        ("Asia/Calcuta", "Asia/Calcutta"),
    ],
)
def test_an_unknown_timezone_lists_the_closest(typed: str, suggested: str) -> None:
    with pytest.raises(SubscriptionError) as caught:
        check_timezone(typed)
    assert suggested in str(caught.value)
    assert "Area/City" in str(caught.value)


def test_nonsense_timezone_still_explains() -> None:
    with pytest.raises(SubscriptionError, match="not a timezone I know"):
        check_timezone("zzzzqqq")


def test_topics_are_cleaned_and_keyed() -> None:
    assert clean_topic("  AUKUS   submarines ") == "AUKUS submarines"
    assert topic_key("AUKUS  Submarines") == topic_key("aukus submarines")
    with pytest.raises(SubscriptionError, match="Name a topic"):
        clean_topic("   ")
    with pytest.raises(SubscriptionError, match="characters long"):
        clean_topic("x" * 101)


# --- schedule -----------------------------------------------------------------------------
def test_kolkata_half_hour_offset() -> None:
    kolkata = sub("07:00", "Asia/Kolkata")
    assert next_run(kolkata, utc("2026-11-30T01:29:00")) == utc("2026-11-30T01:30:00")
    # exactly at the time: that run is now, the next is tomorrow
    assert next_run(kolkata, utc("2026-11-30T01:30:00")) == utc("2026-12-01T01:30:00")
    assert next_run(sub("19:00", "Asia/Kolkata"), utc("2026-11-30T12:00:00")) == utc(
        "2026-11-30T13:30:00"
    )
    assert local_date(kolkata, utc("2026-11-30T20:00:00")) == date(2026, 12, 1)


def test_sydney_across_dst_start() -> None:
    """Clocks go forward on 4 Oct 2026 at 02:00 (AEST +10 → AEDT +11)."""
    sydney = sub("07:00", "Australia/Sydney")
    first = next_run(sydney, utc("2026-10-02T20:00:00"))
    assert first == utc("2026-10-02T21:00:00")  # 3 Oct 07:00 AEST
    second = next_run(sydney, first)
    assert second == utc("2026-10-03T20:00:00")  # 4 Oct 07:00 AEDT: an hour earlier in UTC
    assert second - first == timedelta(hours=23)
    assert local_date(sydney, second) == date(2026, 10, 4)


def test_sydney_across_dst_end() -> None:
    """Clocks go back on 5 Apr 2026 at 03:00 (AEDT +11 → AEST +10)."""
    sydney = sub("19:00", "Australia/Sydney")
    first = next_run(sydney, utc("2026-04-04T00:00:00"))
    assert first == utc("2026-04-04T08:00:00")  # 4 Apr 19:00 AEDT
    second = next_run(sydney, first)
    assert second == utc("2026-04-05T09:00:00")  # 5 Apr 19:00 AEST
    assert second - first == timedelta(hours=25)


def test_a_time_the_clocks_skip_fires_once_after_the_jump() -> None:
    sydney = sub("02:30", "Australia/Sydney")  # 02:00–03:00 does not exist on 4 Oct 2026
    when = next_run(sydney, utc("2026-10-03T12:00:00"))
    assert when == utc("2026-10-03T16:30:00")  # 03:30 AEDT
    assert local_date(sydney, when) == date(2026, 10, 4)


def test_a_time_that_happens_twice_fires_once() -> None:
    sydney = sub("02:30", "Australia/Sydney")  # 02:00–03:00 happens twice on 5 Apr 2026
    first = next_run(sydney, utc("2026-04-04T12:00:00"))
    assert first == utc("2026-04-04T15:30:00")  # the first 02:30 (AEDT)
    assert next_run(sydney, first) == utc("2026-04-05T16:30:00")  # then 6 Apr, not 02:30 again


def test_last_run_is_the_latest_time_at_or_before_now() -> None:
    s = sub("07:00", "UTC")
    assert last_run(s, utc("2026-11-30T07:00:00")) == utc("2026-11-30T07:00:00")
    assert last_run(s, utc("2026-11-30T06:59:00")) == utc("2026-11-29T07:00:00")


def test_catch_up_inside_the_window_sends() -> None:
    s = sub("07:00", "Asia/Manila", created_at=utc("2026-11-01T00:00:00"))  # 07:00 = 23:00Z
    now = utc("2026-11-30T03:00:00")  # 11:00 in Manila: four hours late
    assert due_on_start(s, now, timedelta(hours=6), None) == date(2026, 11, 30)
    assert due_on_start(s, now, timedelta(hours=6), date(2026, 11, 29)) == date(2026, 11, 30)


def test_catch_up_outside_the_window_does_not() -> None:
    s = sub("07:00", "Asia/Manila", created_at=utc("2026-11-01T00:00:00"))
    now = utc("2026-11-30T05:01:00")  # 13:01 in Manila: six hours and a minute late
    assert due_on_start(s, now, timedelta(hours=6), None) is None


def test_catch_up_not_twice_and_not_before_subscribing() -> None:
    s = sub("07:00", "UTC", created_at=utc("2026-11-01T00:00:00"))
    now = utc("2026-11-30T08:00:00")
    assert due_on_start(s, now, timedelta(hours=6), date(2026, 11, 30)) is None
    late_subscriber = sub("07:00", "UTC", created_at=utc("2026-11-30T07:30:00"))
    assert due_on_start(late_subscriber, now, timedelta(hours=6), None) is None


# --- composition --------------------------------------------------------------------------
NOW = utc("2026-11-30T07:00:00")


def story(story_id: int, hours_ago: float, outlets: int = 1, source: str = "A") -> PoolStory:
    when = NOW - timedelta(hours=hours_ago)
    article = Article(
        id=story_id,
        url=f"https://example.com/{story_id}",
        title=f"Story {story_id}",
        source=source,
        published=when,
        fetched=when,
        summary="",
    )
    also = tuple(Coverage(source=f"Outlet {i}", url=None) for i in range(outlets - 1))
    return PoolStory(article=article, also=also, when=when)


def pool_of(stories: list[PoolStory], region: dict[str, dict[int, float]]) -> DigestPool:
    return DigestPool(stories, region, until_id=max(s.article.id for s in stories), built_at=NOW)


def test_order_is_outlets_then_recency_and_sections_follow_the_best_story() -> None:
    stories = [story(1, 1), story(2, 5, outlets=3), story(3, 2), story(4, 3, outlets=2)]
    region = {"Taiwan": {1: 0.5, 2: 0.6}, "Korea": {3: 0.5, 4: 0.4}}
    digest = pool_of(stories, region).compose(sub(), NOW, max_stories=10)
    assert [s.topic for s in digest.sections] == ["Taiwan", "Korea"]
    assert [h.article.id for h in digest.sections[0].hits] == [2, 1]
    assert [h.article.id for h in digest.sections[1].hits] == [4, 3]
    assert [len(h.also) for h in digest.sections[0].hits] == [2, 0]
    assert digest.stories == 4 and not digest.empty


def test_stories_in_no_region_topic_stay_out() -> None:
    digest = pool_of([story(1, 1), story(2, 1)], {"Taiwan": {1: 0.5}}).compose(sub(), NOW, 10)
    assert [h.article.id for s in digest.sections for h in s.hits] == [1]


def test_a_story_goes_in_its_best_topic_only() -> None:
    digest = pool_of([story(1, 1)], {"A": {1: 0.4}, "B": {1: 0.7}}).compose(sub(), NOW, 10)
    assert [(s.topic, len(s.hits)) for s in digest.sections] == [("B", 1)]
    assert digest.sections[0].hits[0].similarity == pytest.approx(0.7)


def test_first_digest_is_the_last_day() -> None:
    pool = pool_of([story(1, 2), story(2, 23), story(3, 25)], {"T": {1: 1, 2: 1, 3: 1}})
    digest = pool.compose(sub(), NOW, 10)
    assert [h.article.id for h in digest.sections[0].hits] == [1, 2]
    assert digest.since == NOW - timedelta(hours=24)
    assert digest.until == NOW and digest.until_id == 3


def test_later_digests_take_what_reached_the_store_since_the_last_one() -> None:
    # 1 and 2 were in the last digest (watermark 2); 3 arrived late but was published an
    # hour before that digest; 4 is old news that reached the store late.
    stories = [story(1, 20), story(2, 13), story(3, 13), story(4, 60), story(5, 1)]
    pool = pool_of(stories, {"T": {i: 1.0 for i in range(1, 6)}})
    s = sub(last_sent_at=NOW - timedelta(hours=12), sent_through_id=2)
    digest = pool.compose(s, NOW, 10)
    assert sorted(h.article.id for h in digest.sections[0].hits) == [3, 5]
    assert digest.since == NOW - timedelta(hours=12)


def test_max_stories_takes_sections_in_turn_and_counts_the_rest() -> None:
    stories = [story(i, i) for i in range(1, 10)]  # 1 is the newest
    region = {"A": {1: 1, 2: 1, 3: 1, 4: 1, 5: 1}, "B": {6: 1, 7: 1}, "C": {8: 1, 9: 1}}
    digest = pool_of(stories, region).compose(sub(), NOW, max_stories=5)
    assert [(s.topic, [h.article.id for h in s.hits], s.more) for s in digest.sections] == [
        ("A", [1, 2], 3),
        ("B", [6, 7], 0),
        ("C", [8], 1),
    ]
    one = pool_of(stories, region).compose(sub(), NOW, max_stories=1)
    assert [(s.topic, len(s.hits), s.more) for s in one.sections] == [
        ("A", 1, 4),
        ("B", 0, 2),
        ("C", 0, 2),
    ]


def test_followed_topics_make_the_sections_and_filter() -> None:
    stories = [story(1, 1), story(2, 2), story(3, 3)]
    pool = pool_of(stories, {"Region": {1: 1, 2: 1, 3: 1}})
    s = sub(topics=("submarines", "Philippines"))
    followed = pool.scores_of([{2: 0.5, 3: 0.4}, {3: 0.6}])
    digest = pool.compose(s, NOW, 10, followed=followed)
    assert [(x.topic, [h.article.id for h in x.hits]) for x in digest.sections] == [
        ("submarines", [2]),
        ("Philippines", [3]),
    ]


def test_nothing_new_is_an_empty_digest() -> None:
    pool = pool_of([story(1, 30)], {"T": {1: 1.0}})
    digest = pool.compose(sub(), NOW, 10)
    assert digest.empty and digest.sections == ()


def test_no_region_topics_means_one_section_of_everything() -> None:
    digest = pool_of([story(1, 1), story(2, 2)], {}).compose(sub(), NOW, 10)
    assert [len(s.hits) for s in digest.sections] == [2]


def test_scores_of_ignores_stories_outside_the_pool() -> None:
    pool = pool_of([story(1, 1)], {"T": {1: 1.0}})
    assert np.isneginf(pool.scores_of([{99: 1.0}])).all()


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BRIEF_DIGEST_DEFAULT_TIME", "7am", "Expected HH:MM"),
        ("BRIEF_DIGEST_DEFAULT_TIMEZONE", "Asia/Manilla", "Asia/Manila"),
        ("BRIEF_DIGEST_MAX_STORIES", "0", "greater than or equal to 1"),
        ("BRIEF_DIGEST_CATCH_UP_HOURS", "25", "less than or equal to 24"),
    ],
)
def test_bad_digest_settings_stop_the_program_naming_themselves(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    from knowledge.errors import SettingsError
    from knowledge.settings import load_settings

    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert variable in str(caught.value) and expected in str(caught.value)


def test_digest_settings_defaults_and_normalised_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge.settings import load_settings

    defaults = load_settings()
    assert (defaults.digest_default_time, defaults.digest_default_timezone) == ("07:00", "UTC")
    assert (defaults.digest_max_stories, defaults.digest_catch_up_hours) == (15, 6)
    monkeypatch.setenv("BRIEF_DIGEST_DEFAULT_TIME", "7:30")
    monkeypatch.setenv("BRIEF_DIGEST_DEFAULT_TIMEZONE", "asia/kolkata")
    custom = load_settings()
    assert (custom.digest_default_time, custom.digest_default_timezone) == (
        "07:30",
        "Asia/Kolkata",
    )
