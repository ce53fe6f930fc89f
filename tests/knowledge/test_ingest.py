"""The ingestion pipeline: one outcome per draft, and one bad item never loses its batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from knowledge.build import build_service
from knowledge.embedder import Vectors
from knowledge.ingest import Draft, Status
from knowledge.settings import Settings
from tests.support.fake_embedder import HashingEmbedder

WHEN = datetime(2025, 10, 31, tzinfo=UTC)


def draft(n: int, **changes: object) -> Draft:
    fields: dict[str, object] = {
        "url": f"https://news.example.com/{n}",
        "title": f"Story number {n} about the Philippines and boat {n}",
        "text": f"Coast guard boat {n} sailed near reef {n} on patrol {n}. Officials spoke {n}.",
        "source": "Example News",
        "published": WHEN,
    }
    fields.update(changes)
    return Draft(**fields)  # type: ignore[arg-type]


class RefusingEmbedder(HashingEmbedder):
    """The deterministic embedder, failing on any text that contains a marker."""

    def encode(self, texts: Sequence[str]) -> Vectors:
        if any("POISON" in t for t in texts):
            raise ValueError("the model cannot encode this text")
        return super().encode(texts)


def test_each_draft_gets_an_outcome_in_order(make_settings: Callable[..., Settings]) -> None:
    service = build_service(make_settings(), embedder=HashingEmbedder())  # type: ignore[arg-type]
    first = service.ingest([draft(1), draft(2), draft(1), draft(3, text=" ")])
    assert [o.status for o in first] == [
        Status.STORED,
        Status.STORED,
        Status.DUPLICATE,  # the same URL twice in one batch
        Status.REJECTED,
    ]
    assert first[2].article_id == first[0].article_id is not None
    assert first[3].reason == "missing title or text"
    again = service.ingest(
        [
            draft(2),
            draft(4, url="https://other.example.org/4", text=draft(2).text, title=draft(2).title),
        ]
    )
    assert again[0].status is Status.DUPLICATE and again[0].article_id == first[1].article_id
    assert again[1].status is Status.LINKED  # same text, another outlet: one story
    service.close()


def test_an_item_the_model_refuses_loses_only_itself(
    make_settings: Callable[..., Settings],
) -> None:
    service = build_service(make_settings(), embedder=RefusingEmbedder())  # type: ignore[arg-type]
    outcomes = service.ingest([draft(1), draft(2, title="POISON pill"), draft(3)])
    assert [o.status for o in outcomes] == [Status.STORED, Status.REJECTED, Status.STORED]
    assert "cannot embed" in outcomes[1].reason
    assert service.stats().articles == 2
    service.close()


def test_an_item_the_database_refuses_loses_only_itself(
    make_settings: Callable[..., Settings],
) -> None:
    service = build_service(make_settings(), embedder=HashingEmbedder())  # type: ignore[arg-type]
    # source 999 does not exist: the foreign key refuses that one row, not the batch
    outcomes = service.ingest([draft(1), draft(2, source_id=999), draft(3)])
    assert [o.status for o in outcomes] == [Status.STORED, Status.REJECTED, Status.STORED]
    assert "FOREIGN KEY" in outcomes[1].reason
    assert service.stats().articles == 2
    assert [h.article.url for h in service.ask("boat 3 reef 3 patrol").hits][:1] == [
        "https://news.example.com/3"
    ]
    service.close()
