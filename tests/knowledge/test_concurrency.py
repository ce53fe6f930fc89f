"""Ingesting while answering: consistent index snapshots, reads that never queue behind a
write, threads that stop when the service closes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from knowledge.build import build_service
from knowledge.ingest import Draft
from knowledge.service import BriefService
from knowledge.settings import Settings
from tests.support.fake_embedder import HashingEmbedder

WHEN = datetime(2025, 10, 31, tzinfo=UTC)
WORDS = ["Taiwan", "Manila", "Seoul", "Tokyo", "Delhi", "Canberra", "Jakarta", "Hanoi"]


def drafts(start: int, count: int) -> list[Draft]:
    return [
        Draft(
            url=f"https://news.example.com/{n}",
            title=f"{WORDS[n % len(WORDS)]} report {n}",
            text=f"Officials in {WORDS[n % len(WORDS)]} said item {n} mattered. More on {n}.",
            source=f"Outlet {n % 5}",
            published=WHEN,
        )
        for n in range(start, start + count)
    ]


def test_queries_racing_an_import_always_get_well_formed_answers(
    make_settings: Callable[..., Settings],
) -> None:
    service = build_service(make_settings(), embedder=HashingEmbedder())  # type: ignore[arg-type]
    service.ingest(drafts(0, 50))
    errors: list[BaseException] = []
    answers = 0
    done = threading.Event()

    def ask_in_a_loop(word: str) -> None:
        nonlocal answers
        while not done.is_set():
            try:
                brief = service.ask(f"{word} report", k=10)
                assert len(brief.hits) <= 10 and brief.total >= len(brief.hits)
                assert all(h.article.title and h.article.id for h in brief.hits)
                answers += 1
            except BaseException as exc:
                errors.append(exc)
                return

    readers = [threading.Thread(target=ask_in_a_loop, args=(w,)) for w in WORDS[:3]]
    for reader in readers:
        reader.start()
    try:
        for start in range(50, 3050, 100):  # 3,000 articles in 30 imports: the index regrows
            service.ingest(drafts(start, 100))
    finally:
        done.set()
        for reader in readers:
            reader.join()
    assert not errors, errors[0]
    assert answers > 0
    assert len(service.searcher.index) == 3050
    service.close()


def test_a_read_does_not_wait_for_an_open_write(make_settings: Callable[..., Settings]) -> None:
    service = build_service(make_settings(), embedder=HashingEmbedder())  # type: ignore[arg-type]
    service.ingest(drafts(0, 5))
    read_done = threading.Event()
    counted: list[int] = []

    def read() -> None:
        counted.append(service.stats().articles)
        read_done.set()

    with service.store.db.write() as conn:  # a write transaction stays open meanwhile
        conn.execute("UPDATE articles SET title = title || '!' WHERE id = 1")
        thread = threading.Thread(target=read)
        thread.start()
        assert read_done.wait(120), "the read queued behind the write"  # (it would wait forever)
    thread.join()
    assert counted == [5]
    service.close()


def test_closing_the_service_stops_its_threads(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    service.ingest(drafts(0, 3))
    before = set(threading.enumerate())
    assert service.ask("Taiwan report").hits  # starts the query worker and the search threads
    started = [t for t in threading.enumerate() if t not in before and t.name.startswith("search")]
    worker = service.embedder._worker
    assert started and worker is not None and worker.is_alive()
    service.close()
    assert not worker.is_alive()
    assert not [t.name for t in started if t.is_alive()]
