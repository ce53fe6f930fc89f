"""Subscriptions and exactly-once digest claims on real SQLite files (no model needed)."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest

from knowledge.models import DigestRun
from knowledge.store import Store

DAY = date(2026, 11, 30)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "brief.db"


@pytest.fixture
def store(db: Path) -> Store:
    s = Store(db)
    yield s  # type: ignore[misc]
    s.close()


def subscribe(store: Store, chat_id: int, **kw: object) -> None:
    store.subscriptions.upsert(chat_id, kw.get("thread_id"), time(7), "UTC")  # type: ignore[arg-type]


def test_two_stores_on_one_file_claim_each_digest_exactly_once(db: Path) -> None:
    stores = [Store(db), Store(db)]
    chats = list(range(1, 41))
    won: list[list[int]] = [[], [], [], []]
    barrier = threading.Barrier(4)

    def race(slot: int) -> None:
        store = stores[slot % 2]
        barrier.wait()
        for chat in chats:
            if store.claims.claim(chat, DAY):
                won[slot].append(chat)

    threads = [threading.Thread(target=race, args=(slot,)) for slot in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = sorted(chat for slot in won for chat in slot)
    assert winners == chats  # every chat claimed once, by exactly one racer
    for s in stores:
        s.close()


def _claim_in_process(path: str, chats: list[int], start: object, out: object) -> None:
    store = Store(Path(path))
    start.wait()  # type: ignore[attr-defined]
    won = [chat for chat in chats if store.claims.claim(chat, DAY)]
    store.close()
    out.put(won)  # type: ignore[attr-defined]


def test_processes_claim_each_digest_exactly_once(db: Path) -> None:
    Store(db).close()  # migrate once, so the racers start together
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    chats = list(range(100, 160))
    procs = [
        ctx.Process(target=_claim_in_process, args=(str(db), chats, start, out)) for _ in range(3)
    ]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    assert sorted(c for won in results for c in won) == chats


def test_a_crash_between_claim_and_send_never_sends_twice(db: Path) -> None:
    first = Store(db)
    subscribe(first, 7)
    assert first.claims.claim(7, DAY)
    first.close()  # the process dies here: the claim was recorded, the send never finished

    after = Store(db)
    assert not after.claims.claim(7, DAY)  # the restarted bot does not send it again
    unsent = after.claims.unsent()
    assert [(c.chat_id, c.local_date, c.status) for c in unsent] == [(7, DAY, "claimed")]
    assert after.claims.finish(7, DAY, "uncertain")
    assert after.claims.unsent() == []
    assert not after.claims.claim(7, DAY)
    assert after.claims.last_date(7) == DAY
    after.close()


def test_finish_statuses(store: Store) -> None:
    subscribe(store, 1)
    cutoff = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert store.claims.claim(1, DAY)
    assert store.claims.finish(1, DAY, "sent", cutoff=cutoff, through_id=42, stories=5)
    sub = store.subscriptions.get(1)
    assert sub is not None and sub.last_sent_at == cutoff and sub.sent_through_id == 42
    assert not store.claims.finish(1, DAY, "failed")  # a finished claim stays finished
    assert not store.claims.claim(1, DAY)

    # failed: definitely not delivered, so the claim is released for a retry
    other = date(2026, 12, 1)
    assert store.claims.claim(1, other)
    assert store.claims.finish(1, other, "failed")
    assert store.claims.last_date(1) == DAY  # a failed date does not count as done
    assert store.claims.claim(1, other)
    claim = store.claims.get(1, other)
    assert claim is not None and claim.attempts == 2 and claim.status == "claimed"

    # uncertain: final, never claimed again; a later confirmation may still mark it sent
    third = date(2026, 12, 2)
    assert store.claims.claim(1, third)
    assert store.claims.finish(1, third, "uncertain")
    assert not store.claims.claim(1, third)
    assert store.claims.finish(1, third, "sent")

    assert not store.claims.finish(1, date(2027, 1, 1), "sent")  # never claimed
    with pytest.raises(ValueError, match="status must be one of"):
        store.claims.finish(1, DAY, "delivered")


def test_move_chat_keeps_subscription_topics_and_claims(store: Store) -> None:
    store.chats.upsert(-100, "group", "Readers")
    store.subscriptions.upsert(-100, None, time(6, 30), "Asia/Manila")
    store.subscriptions.follow(-100, "aukus", "AUKUS")
    assert store.claims.claim(-100, DAY)
    assert store.claims.finish(-100, DAY, "sent", through_id=9)
    store.chats.upsert(-1001, "supergroup", "Readers")  # a message from the new id came first

    store.subscriptions.move_chat(-100, -1001)

    assert store.subscriptions.get(-100) is None
    moved = store.subscriptions.get(-1001)
    assert moved is not None
    assert (moved.at, moved.timezone, moved.topics, moved.sent_through_id) == (
        time(6, 30),
        "Asia/Manila",
        ("AUKUS",),
        9,
    )
    assert not store.claims.claim(-1001, DAY)  # today's digest was sent: not again at the new id
    assert store.claims.get(-100, DAY) is None
    assert store.chats.is_active(-1001) is True
    assert store.chats.is_active(-100) is None


def test_resubscribing_updates_and_unsubscribed_chats_start_afresh(store: Store) -> None:
    store.subscriptions.upsert(5, None, time(7), "UTC")
    store.subscriptions.follow(5, "taiwan", "Taiwan")
    assert store.claims.claim(5, DAY)
    store.claims.finish(5, DAY, "sent", through_id=3)
    again = store.subscriptions.upsert(5, 12, time(8), "Asia/Tokyo")
    assert (again.at, again.timezone, again.thread_id, again.topics) == (
        time(8),
        "Asia/Tokyo",
        12,
        ("Taiwan",),
    )
    assert again.sent_through_id == 3  # still subscribed: the cutoff stays
    assert store.subscriptions.end(5, "unsubscribed")
    assert not store.subscriptions.end(5, "unsubscribed")
    assert store.subscriptions.get(5) is None
    assert store.subscriptions.active_count() == 0
    back = store.subscriptions.upsert(5, None, time(7), "UTC")
    assert back.last_sent_at is None and back.sent_through_id is None
    assert back.topics == ("Taiwan",)  # topics outlive a pause


def test_follow_unfollow_keep_order_and_ignore_case(store: Store) -> None:
    subscribe(store, 9)
    assert store.subscriptions.follow(9, "aukus", "AUKUS")
    assert store.subscriptions.follow(9, "taiwan strait", "Taiwan Strait")
    assert not store.subscriptions.follow(9, "aukus", "aukus")
    sub = store.subscriptions.get(9)
    assert sub is not None and sub.topics == ("AUKUS", "Taiwan Strait")
    assert store.subscriptions.unfollow(9, "aukus")
    assert not store.subscriptions.unfollow(9, "aukus")


def test_digest_runs_for_stats(store: Store) -> None:
    assert store.claims.last_run() is None
    started = datetime(2026, 11, 30, 7, tzinfo=UTC)
    store.claims.record_run(DigestRun(started_at=started, sent=3, failed=1, skipped=2))
    store.claims.record_run(DigestRun(started_at=started.replace(hour=8), sent=5, uncertain=1))
    last = store.claims.last_run()
    assert last is not None and (last.started_at.hour, last.sent, last.uncertain) == (8, 5, 1)


def test_finish_without_the_digest_falls_back_to_the_claim(store: Store) -> None:
    from knowledge.store import NewArticle

    subscribe(store, 2)
    when = datetime(2026, 11, 30, 6, tzinfo=UTC)
    [article_id] = store.articles.insert(
        [
            NewArticle(
                url=None,
                title="t",
                source="s",
                published=when,
                fetched=when,
                text="x",
                summary="x",
                content_hash="h",
                embedding=b"\0" * 768,
            )
        ]
    )
    assert store.claims.claim(2, DAY)
    claim = store.claims.get(2, DAY)
    assert store.claims.finish(2, DAY, "uncertain")  # uncertain: as good as sent
    sub = store.subscriptions.get(2)
    assert sub is not None and claim is not None
    assert (sub.last_sent_at, sub.sent_through_id) == (claim.claimed_at, article_id)
