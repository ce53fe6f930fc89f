"""A day of real corpus stories in a digest: every regional story appears, in a section its
corpus labels name, and the non-Asia ones stay out.

About 90 regional stories (`core` items of the TEST half of ../shared/data/news_asia_pacific,
the sections taking turns, chosen by their corpus labels and sha256 order, not by what the
classifier gets right) and 40 non-Asia distractors of the test half are re-dated into the last
day and imported with the real model; the digest cap is 100 (BRIEF_DIGEST_MAX_STORIES).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.errors import ImportRecordError
from knowledge.records import draft_from_record
from knowledge.regions import taxonomy
from knowledge.service import BriefService
from knowledge.store import utcnow

REGIONAL = 90
NON_ASIA = 40


def _sha(item_id: object) -> str:
    return hashlib.sha256(str(item_id).encode()).hexdigest()


def _rows(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    out = []
    for row in rows:
        if _sha(row["id"])[0] not in "89abcdef":
            continue  # the test half only
        try:
            draft_from_record(row)
        except ImportRecordError:
            continue
        out.append(row)
    return sorted(out, key=lambda r: _sha(r["id"]))


@pytest.fixture(scope="module")
def day(shared_data: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(regional rows, non-Asia rows) of the test half."""
    corpus = shared_data / "news_asia_pacific"
    tax = taxonomy()
    core = [r for r in _rows(corpus / "articles.jsonl.gz") if r["relevance"] == "core"]
    chosen: dict[str, dict[str, Any]] = {}
    # the sections take turns: each one's next labelled item (sha256 order) until REGIONAL
    queues = {
        section.key: [r for r in core if section.key in tax.sections_of_labels(r["topics"])]
        for section in tax.sections
    }
    while len(chosen) < REGIONAL and any(queues.values()):
        for queue in queues.values():
            while queue and queue[0]["id"] in chosen:
                queue.pop(0)
            if queue and len(chosen) < REGIONAL:
                row = queue.pop(0)
                chosen[row["id"]] = row
    distractors = _rows(corpus / "distractors.jsonl.gz")[:NON_ASIA]
    return list(chosen.values()), distractors


def _digest_of_the_day(
    make_service: Callable[..., BriefService],
    day: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> dict[str, Any]:
    """Import the day re-dated into the last day, compose a digest capped at 100; what it
    left out, put in a section its labels do not name, and let through of the non-Asia."""
    regional, non_asia = day
    assert len(regional) == REGIONAL and len(non_asia) == NON_ASIA
    service = make_service(digest_max_stories=100)
    now = utcnow()
    records = []
    for n, row in enumerate([*regional, *non_asia]):
        redated = dict(row, published=(now - timedelta(minutes=5 + 10 * n)).isoformat())
        records.append((n + 1, redated))
    report = service.import_records(records)
    assert not report.rejected
    stored = service.store.articles.newest_stories(1000)
    assert stored
    # copies of one story are linked: find each item's story by its title or its leader
    with service.store.db.read() as conn:
        story_of = {
            str(r[0]): int(r[1])
            for r in conn.execute("SELECT title, coalesce(story_id, id) FROM articles")
        }
    service.subscribe(1)
    digest = service.compose_digest(1, now + timedelta(minutes=1))
    shown = {h.article.id: s.topic for s in digest.sections for h in s.hits}
    tax = taxonomy()
    missing, misplaced = [], []
    for row in regional:
        title = " ".join(row["title"].split())
        story = story_of[title]
        if story not in shown:
            missing.append(title)
            continue
        labelled = {tax.title(k) for k in tax.sections_of_labels(row["topics"])}
        leader = next((a for a in stored if a.id == story), None)
        if leader is not None and leader.title == title and shown[story] not in labelled:
            misplaced.append((title, shown[story], sorted(labelled)))
    through = [
        " ".join(r["title"].split())
        for r in non_asia
        if story_of[" ".join(r["title"].split())] in shown
    ]
    return {
        "service": service,
        "now": now,
        "digest": digest,
        "missing": missing,
        "misplaced": misplaced,
        "through": through,
    }


def test_a_day_of_regional_stories_fills_the_sections_its_labels_name(
    make_service: Callable[..., BriefService],
    day: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    got = _digest_of_the_day(make_service, day)
    digest, service, now = got["digest"], got["service"], got["now"]
    # measured today: 4 of the 90 left out (95.6%); the strict xfail below asks for all
    assert len(got["missing"]) <= 4, got["missing"]
    assert not got["misplaced"], got["misplaced"]
    assert len(got["through"]) <= 1, got["through"]
    assert all(s.more == 0 for s in digest.sections)  # everything fits under the cap

    # with a smaller cap the sections take turns and the "+ N more" counts are true
    small = make_service(db=service.store.path, digest_max_stories=30)
    capped = small.compose_digest(1, now + timedelta(minutes=1))
    assert capped.stories == 30
    assert {s.topic for s in capped.sections} == {s.topic for s in digest.sections}
    full = {s.topic: len(s.hits) for s in digest.sections}
    for section in capped.sections:
        assert section.hits, section.topic
        assert len(section.hits) + section.more == full[section.topic]


@pytest.mark.xfail(
    strict=True,
    reason="issue 14 not met yet: 4 of these 90 test-half core stories are left out (the "
    "regional decision misses 2; the corpus labels 2 non-Asia items core); strict, so it "
    "fails once the classifier keeps them all and this mark must go",
)
def test_every_regional_story_of_a_day_appears(
    make_service: Callable[..., BriefService],
    day: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    got = _digest_of_the_day(make_service, day)
    assert not got["missing"], got["missing"]
