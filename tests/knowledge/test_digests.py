"""Digests through the service on the real model: region topics by meaning, followed topics,
what is new, near-duplicates, and the subscription rules people meet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta

import pytest

from knowledge.errors import SubscriptionError
from knowledge.service import BriefService
from knowledge.store import utcnow

TAIWAN = (
    "China's military launched large-scale drills around Taiwan on Monday, sending warships "
    "and fighter jets into the Taiwan Strait in what Beijing called a stern warning to "
    "separatist forces. Taiwan's defence ministry said it scrambled aircraft and put missile "
    "systems on alert as the exercises encircled the island, raising tensions across the "
    "strait."
)
STORIES = {
    "taiwan": (
        "China stages large-scale military drills around Taiwan",
        TAIWAN,
        "Reuters",
    ),
    "taiwan-copy": (
        "China holds large military drills around Taiwan",
        TAIWAN.replace("on Monday", "on Monday morning"),
        "AP",
    ),
    "shoal": (
        "Philippine and Chinese coast guard vessels collide near Scarborough Shoal",
        "A Chinese coast guard ship collided with a Philippine patrol vessel near the disputed "
        "Scarborough Shoal in the South China Sea, Manila said, accusing Beijing of dangerous "
        "manoeuvres in waters it claims under an international arbitration ruling.",
        "Rappler",
    ),
    "korea": (
        "North Korea fires ballistic missile into the sea off its east coast",
        "North Korea fired a ballistic missile into the sea off its east coast on Tuesday, "
        "South Korea's military said, the latest in a series of weapons tests that Pyongyang "
        "says are a response to joint US-South Korean military exercises.",
        "Yonhap",
    ),
    "football": (
        "Manchester United beat Liverpool 2-1 at Old Trafford",
        "Manchester United came from behind to beat Liverpool 2-1 in the Premier League on "
        "Sunday, with a late header from a substitute sealing the win in front of a sell-out "
        "crowd at Old Trafford. The manager praised his side's spirit after the match.",
        "Sports Desk",
    ),
}


def record(key: str, hours_ago: float, now: datetime) -> dict[str, str]:
    title, text, source = STORIES[key]
    return {
        "title": title,
        "text": text,
        "source": source,
        "url": f"https://news.example/{key}",
        "published": (now - timedelta(hours=hours_ago)).isoformat(),
    }


def load(service: BriefService, *items: tuple[str, float]) -> datetime:
    now = utcnow()
    report = service.import_records(
        [(i, record(key, hours, now)) for i, (key, hours) in enumerate(items, 1)]
    )
    assert not report.rejected
    return now


def titles(digest: object) -> list[str]:
    return [h.article.title for s in digest.sections for h in s.hits]  # type: ignore[attr-defined]


@pytest.fixture
def service(make_service: Callable[..., BriefService]) -> BriefService:
    return make_service()


def test_a_general_story_stays_out_of_digests_and_latest_but_search_finds_it(
    service: BriefService,
) -> None:
    now = load(service, ("taiwan", 2), ("football", 1), ("korea", 3))
    service.subscribe(1)
    digest = service.compose_digest(1, now + timedelta(minutes=1))
    assert "Manchester United beat Liverpool 2-1 at Old Trafford" not in titles(digest)
    assert set(titles(digest)) == {STORIES["taiwan"][0], STORIES["korea"][0]}
    latest = service.latest(k=10)
    assert [h.article.title for h in latest.hits] == [STORIES["taiwan"][0], STORIES["korea"][0]]
    assert latest.total == 2
    found = service.ask("Manchester United Liverpool Premier League")
    assert found.hits and found.hits[0].article.title == STORIES["football"][0]


def test_sections_are_region_topics_and_near_duplicates_collapse(service: BriefService) -> None:
    now = load(service, ("taiwan", 2), ("taiwan-copy", 1), ("shoal", 1), ("korea", 4))
    service.subscribe(1)
    digest = service.compose_digest(1, now + timedelta(minutes=1))
    hits = {h.article.title: h for s in digest.sections for h in s.hits}
    assert len(hits) == 3
    taiwan = hits[STORIES["taiwan"][0]]
    assert [c.source for c in taiwan.also] == ["AP"]  # one story, the other outlet under "also"
    assert titles(digest)[0] == STORIES["taiwan"][0]  # two outlets: first, though not newest
    topics = {s.topic: [h.article.title for h in s.hits] for s in digest.sections}
    assert topics["Korean Peninsula"] == [STORIES["korea"][0]]
    assert STORIES["shoal"][0] in topics["South China Sea"]


def test_followed_topics_keep_only_matching_stories(service: BriefService) -> None:
    now = load(service, ("taiwan", 2), ("shoal", 1), ("korea", 3), ("football", 1))
    sub = service.follow(1, "North  Korea")
    assert sub.topics == ("North Korea",)
    digest = service.compose_digest(1, now + timedelta(minutes=1))
    assert [(s.topic, [h.article.title for h in s.hits]) for s in digest.sections] == [
        ("North Korea", [STORIES["korea"][0]])
    ]
    service.follow(2, "football results")  # football is in no region topic: never in a digest
    assert service.compose_digest(2, now + timedelta(minutes=1)).empty
    service.unfollow(1, "north KOREA")
    assert len(titles(service.compose_digest(1, now + timedelta(minutes=1)))) == 3


def test_first_digest_is_the_last_day_then_what_is_new_since(service: BriefService) -> None:
    now = load(service, ("taiwan", 2), ("shoal", 30))  # the shoal story is a day and more old
    service.subscribe(1)
    first = service.compose_digest(1, now + timedelta(minutes=1))
    assert titles(first) == [STORIES["taiwan"][0]]
    assert service.claim_digest(1, first.local_date)
    # as the bot does: compose, claim, send, finish (the service knows what it composed)
    assert service.finish_digest(1, first.local_date, "sent")
    sub = service.subscription(1)
    assert sub is not None and sub.last_sent_at == first.until
    assert sub.sent_through_id == first.until_id

    later = load(service, ("korea", 0.5))
    second = service.compose_digest(1, later + timedelta(hours=1))
    assert titles(second) == [STORIES["korea"][0]]  # not the Taiwan story again


def test_nothing_new_is_empty(service: BriefService) -> None:
    now = load(service, ("taiwan", 50))
    service.subscribe(1)
    digest = service.compose_digest(1, now)
    assert digest.empty and digest.stories == 0


def test_max_stories_setting(make_service: Callable[..., BriefService]) -> None:
    service = make_service(digest_max_stories=1)
    now = load(service, ("taiwan", 2), ("korea", 1), ("shoal", 3))
    service.subscribe(1)
    digest = service.compose_digest(1, now + timedelta(minutes=1))
    assert digest.stories == 1
    assert sum(s.more for s in digest.sections) == 2


def test_subscribe_defaults_and_clear_errors(make_service: Callable[..., BriefService]) -> None:
    service = make_service(digest_default_time="06:45", digest_default_timezone="Asia/Manila")
    sub = service.subscribe(3, thread_id=77)
    assert (sub.at, sub.timezone, sub.thread_id) == (time(6, 45), "Asia/Manila", 77)
    assert service.subscribe(3, at="19:00", timezone="australia/sydney").timezone == (
        "Australia/Sydney"
    )
    with pytest.raises(SubscriptionError, match=r"Expected HH:MM, e\.g\. 07:30"):
        service.subscribe(3, at="7pm")
    with pytest.raises(SubscriptionError, match="Asia/Kolkata"):
        service.subscribe(3, timezone="Asia/Kolkatta")
    assert service.subscription(3).at == time(19)  # type: ignore[union-attr]  # nothing lost
    with pytest.raises(SubscriptionError):
        service.update_subscription(404, silent=True)
    assert service.update_subscription(3, silent=True, notify_empty=True).silent
    with pytest.raises(SubscriptionError, match="does not follow"):
        service.unfollow(3, "AUKUS")
    for n in range(10):
        service.follow(3, f"topic {n}")
    with pytest.raises(SubscriptionError, match="at most 10 topics"):
        service.follow(3, "one too many")
    assert len(service.follow(3, "TOPIC 0").topics) == 10  # following again changes nothing
    with pytest.raises(SubscriptionError, match="characters long"):
        service.follow(3, "x" * 200)
    assert service.unsubscribe(3) and not service.unsubscribe(3)
    assert service.subscriptions() == []


def test_move_chat_through_the_service(service: BriefService) -> None:
    service.record_chat(-5, "group", "G")
    service.follow(-5, "Taiwan")
    today = datetime.now(UTC).date()
    assert service.claim_digest(-5, today)
    service.move_chat(-5, -1005)
    assert service.subscription(-5) is None
    moved = service.subscription(-1005)
    assert moved is not None and moved.topics == ("Taiwan",)
    assert not service.claim_digest(-1005, today)
    assert service.unsent_claims() == [(-1005, today)]


def test_an_unsubscribed_chat_gets_what_a_new_subscription_would(service: BriefService) -> None:
    now = load(service, ("taiwan", 2), ("korea", 30))
    digest = service.compose_digest(9, now + timedelta(minutes=1))
    assert titles(digest) == [STORIES["taiwan"][0]]
    assert service.subscription(9) is None  # nothing recorded
    preview = service.compose_digest(9, now + timedelta(minutes=1), topics=("Scarborough",))
    assert preview.empty


def test_finish_with_the_digest_sent_moves_the_cutoff_to_it(service: BriefService) -> None:
    now = load(service, ("taiwan", 2))
    service.subscribe(4)
    first = service.compose_digest(4, now + timedelta(minutes=1))
    load(service, ("korea", 0.2))  # reaches the store after the digest was composed
    service.compose_digest(4, now + timedelta(minutes=2))  # e.g. a /digest in between
    assert service.claim_digest(4, first.local_date)
    assert service.finish_digest(4, first.local_date, "sent", first)
    second = service.compose_digest(4, now + timedelta(hours=1))
    assert titles(second) == [STORIES["korea"][0]]  # not lost, though it was composed once


def test_sections_come_from_the_stored_labels(service: BriefService) -> None:
    load(service, ("taiwan", 2), ("football", 1))
    service.warm_up()
    taiwan = service.store.articles.newest_stories(5)[-1]
    assert taiwan.title == STORIES["taiwan"][0]
    assert taiwan.section == "taiwan" and taiwan.for_brief
    assert service.story_topics([taiwan.id])[taiwan.id][0] == "Taiwan Strait"
