"""Importing: JSONL (gzip too), line-numbered rejections, idempotence, near-duplicate stories."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from knowledge.build import build_service
from knowledge.records import draft_from_record, read_jsonl
from knowledge.service import BriefService
from knowledge.settings import Settings
from tests.support.fake_embedder import HashingEmbedder

GOOD = {
    "title": "US destroyer transits the Taiwan Strait",
    "text": "A US Navy destroyer sailed through the Taiwan Strait in a routine transit. China's "
    "Eastern Theater Command said it tracked the ship and kept forces on high alert.",
    "url": "https://strait.example.net/us-transit?utm_source=x#top",
    "published": "2025-10-25T08:00:00+08:00",
    "source": "Strait Example",
}


def write_jsonl(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_bad_lines_are_named_and_the_good_ones_taken(
    tmp_path: Path, make_service: Callable[..., BriefService]
) -> None:
    lines = [
        json.dumps(GOOD).encode(),
        b'{"title": "broken", "text": ',  # malformed JSON
        '{"title": "caf\u00e9", "text": "x"}'.encode("latin-1"),  # not UTF-8
        json.dumps({"text": "no title here"}).encode(),
        json.dumps({"title": "No text", "text": "   "}).encode(),
        json.dumps(["a", "list"]).encode(),
        json.dumps({**GOOD, "url": "javascript:alert(1)"}).encode(),
        json.dumps({**GOOD, "url": None, "published": "last Tuesday"}).encode(),
        b"",  # blank lines are skipped, not rejected
        json.dumps({**GOOD, "url": None, "source": None, "extra": 1}).encode(),
    ]
    service = make_service()
    report = service.import_file(write_jsonl(tmp_path / "in.jsonl", lines))
    reasons = {r.line: r.reason for r in report.rejected}
    assert reasons == {
        2: reasons[2],
        3: reasons[3],
        4: "missing title",
        5: "missing text",
        6: "expected a JSON object, got list",
        7: "url is not an http(s) URL: 'javascript:alert(1)'",
        8: "published is not an ISO 8601 date: 'last Tuesday'",
    }
    assert reasons[2].startswith("malformed JSON")
    assert reasons[3].startswith("not valid UTF-8 (byte 0xe9")
    assert report.imported == 2
    assert service.stats().articles == 2


def test_second_import_changes_nothing(
    tmp_path: Path, make_service: Callable[..., BriefService]
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [json.dumps(GOOD).encode()])
    service = make_service()
    assert service.import_file(path).imported == 1
    db = Path(service.settings.db)
    again = service.import_file(path)
    assert (again.imported, again.duplicates, again.rejected) == (0, 1, ())
    # the same article with another spelling of its URL is the same article
    respelled = {**GOOD, "url": "HTTPS://Strait.Example.net/us-transit/"}
    assert service.import_records([(1, respelled)]).duplicates == 1
    assert service.stats().articles == 1
    assert db.exists()


def test_canonical_url_and_utc_date_are_stored() -> None:
    draft = draft_from_record(GOOD)
    assert draft.url == "https://strait.example.net/us-transit"
    assert draft.published is not None
    assert draft.published.isoformat() == "2025-10-25T00:00:00+00:00"


def test_gzip_is_read_directly(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(json.dumps(GOOD).encode() + b"\n")
    assert [number for number, _ in read_jsonl(path)] == [1]


def test_same_text_elsewhere_is_linked_to_the_first_copy(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    copy = {**GOOD, "url": "https://wire.example.org/transit", "source": "Example Wire"}
    report = service.import_records([(1, GOOD), (2, copy)])
    assert (report.imported, report.linked) == (2, 1)
    brief = service.ask("destroyer Taiwan Strait transit")
    assert len(brief.hits) == 1
    assert [c.source for c in brief.hits[0].also] == ["Example Wire"]


def test_rewritten_copy_within_days_is_linked_but_not_months_later(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    rewrite = {
        **GOOD,
        "url": "https://wire.example.org/transit-2",
        "source": "Example Wire",
        "published": "2025-10-26",
        "text": GOOD["text"].replace("routine transit", "routine passage")
        + " Taipei welcomed it.",
    }
    later = {**rewrite, "url": "https://wire.example.org/transit-3", "published": "2026-03-01"}
    report = service.import_records([(1, GOOD), (2, rewrite), (3, later)])
    assert (report.imported, report.linked) == (3, 1)
    assert service.stats().stories == 2


def test_whole_news_corpus_imports_every_valid_line(
    shared_data: Path, make_settings: Callable[..., Settings]
) -> None:
    """Accounting over the real corpus; the hashing embedder keeps it fast (ranking is not
    what this test is about; bench/ measures the real model's import throughput)."""
    corpus = shared_data / "news_asia_pacific" / "articles.jsonl.gz"
    service = build_service(make_settings(), embedder=HashingEmbedder())  # type: ignore[arg-type]
    try:
        first = service.import_file(corpus)
        assert [(r.line, r.reason) for r in first.rejected] == [
            (555, "missing text"),
            (1771, "missing text"),
        ]
        assert first.imported == 5465
        assert first.read == 5467
        second = service.import_file(corpus)
        assert (second.imported, second.duplicates, len(second.rejected)) == (0, 5465, 2)
        assert service.stats().articles == 5465
    finally:
        service.close()


@pytest.mark.parametrize("value", [None, ""])
def test_missing_url_and_source_are_allowed(value: str | None) -> None:
    draft = draft_from_record({"title": "T", "text": "Body.", "url": value})
    assert (draft.url, draft.source) == (None, "unknown")
