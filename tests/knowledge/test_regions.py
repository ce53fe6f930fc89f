"""The region taxonomy and classifier: places name sections, the shipped model labels real
stories with the real model, labels are stored at ingest, backfilled and re-labelled."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedder import Embedder
from knowledge.ingest import Draft
from knowledge.regions import (
    parse_taxonomy,
    read_model,
    sections_named_in,
    shipped_model,
    taxonomy,
)
from knowledge.service import BriefService

WHEN = datetime(2026, 11, 30, tzinfo=UTC)


def test_the_taxonomy_has_the_nine_sections_and_their_corpus_labels() -> None:
    tax = taxonomy()
    assert [s.title for s in tax.sections] == [
        "Taiwan Strait",
        "South China Sea",
        "Korean Peninsula",
        "Japan & East China Sea",
        "India & Indian Ocean",
        "Australia & Pacific Islands",
        "Quad & AUKUS",
        "ASEAN",
        "China",
    ]
    labels = {label for s in tax.sections for label in s.labels}
    assert labels == {
        "south_china_sea",
        "east_china_sea",
        "taiwan",
        "china",
        "korea",
        "japan",
        "india_south_asia",
        "southeast_asia_asean",
        "australia_nz",
        "pacific_islands",
        "regional_security_frameworks",
    }
    assert tax.sections_of_labels(["east_china_sea", "japan", "nonsense"]) == {"japan"}
    assert tax.key_of_title("  japan &  east china sea ") == "japan"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Papua New Guinea, Fiji and the Solomon Islands", {"australia_pacific"}),
        ("Senkaku Diaoyu dispute", {"japan"}),
        ("Indonesia and Malaysia", {"asean"}),
        ("Japan and South Korea relations", {"japan", "korea"}),
        ("is China building on Mischief Reef", {"china", "south_china_sea"}),
        ("what is happening in the Quad", {"quad_aukus"}),
        ("news from the Korean Peninsula", {"korea"}),
        ("India & Indian Ocean", {"india"}),
        ("Indiana basketball scores", set()),  # word boundaries: not India
        ("a quad bike race", set()),  # "Quad" only as written
        ("", set()),
    ],
)
def test_sections_named_in_maps_places_to_sections(text: str, expected: set[str]) -> None:
    assert sections_named_in(text) == expected


def test_a_taxonomy_missing_fields_is_refused_with_its_name() -> None:
    with pytest.raises(ValueError, match="section 1 lacks labels, places"):
        parse_taxonomy('[[section]]\nkey = "x"\ntitle = "X"\n')
    with pytest.raises(ValueError, match="repeat"):
        parse_taxonomy(
            '[[section]]\nkey="a"\ntitle="A"\nlabels=[]\nplaces=[]\n'
            '[[section]]\nkey="a"\ntitle="B"\nlabels=[]\nplaces=[]\n'
        )


def test_a_file_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "model.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="is not a region model"):
        read_model(bad)


def test_the_model_round_trips_through_its_file(tmp_path: Path) -> None:
    model = shipped_model()
    path = tmp_path / "copy.npz"
    model.save(path)
    again = read_model(path)
    assert again.signature == model.signature
    assert again.keys == taxonomy().keys


STORIES = [
    (
        "Chinese warships sail through Taiwan Strait as Taipei scrambles jets",
        "Taiwan's defence ministry said Chinese navy ships crossed the median line of the "
        "Taiwan Strait, and Taipei scrambled fighter jets in response.",
        "taiwan",
    ),
    (
        "North Korea fires ballistic missile into the sea, Seoul says",
        "North Korea fired a ballistic missile off its east coast, South Korea's military said, "
        "the latest in a series of launches condemned by Seoul and Tokyo.",
        "korea",
    ),
    (
        "Philippine coast guard says Chinese vessel fired water cannon at Second Thomas Shoal",
        "The Philippine coast guard said a Chinese coast guard ship used a water cannon against "
        "a resupply boat near Second Thomas Shoal in the South China Sea.",
        "south_china_sea",
    ),
    (
        "Fiji and Solomon Islands leaders meet at Pacific Islands Forum",
        "Leaders of Pacific island nations met in Suva, where Australia and New Zealand pledged "
        "new funding for climate and policing in the region.",
        "australia_pacific",
    ),
]
OFF_BRIEF = [
    (
        "Manchester United beat Chelsea 3-1 in the Premier League",
        "Manchester United scored twice in the second half to beat Chelsea at Old Trafford, "
        "lifting them to fourth in the Premier League table.",
    ),
    (
        "Ohio city council approves new budget for road repairs",
        "The council of Columbus, Ohio, voted 6-1 to approve a budget that adds money for road "
        "repairs and snow removal next winter.",
    ),
]


def test_the_shipped_model_labels_real_stories(embedder: Embedder) -> None:
    model = shipped_model()
    texts = [t for t, _, _ in STORIES] + [t for t, _ in OFF_BRIEF]
    bodies = [b for _, b, _ in STORIES] + [b for _, b in OFF_BRIEF]
    vectors = embedder.encode([f"{t}. {b}" for t, b in zip(texts, bodies, strict=True)])
    labels = model.classify(texts, bodies, vectors)
    for (_, _, section), label in zip(STORIES, labels[: len(STORIES)], strict=True):
        assert label.for_brief, label
        assert section in label.sections, label
        assert label.section in label.sections
    for label in labels[len(STORIES) :]:
        assert not label.for_brief, label
    assert model.classify([], [], np.zeros((0, 384), dtype=np.float32)) == []


def drafts() -> list[Draft]:
    return [
        Draft(
            url=f"https://news.example.com/{i}",
            title=title,
            text=body,
            source="Example News",
            published=WHEN,
        )
        for i, (title, body) in enumerate([(t, b) for t, b, _ in STORIES] + OFF_BRIEF)
    ]


def test_labels_are_stored_at_ingest_and_read_back(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    outcomes = service.ingest(drafts())
    ids = [o.article_id for o in outcomes]
    assert all(ids)
    stored = service.store.articles.by_ids([i for i in ids if i is not None])
    first = stored[outcomes[0].article_id]  # type: ignore[index]
    assert first.section == "taiwan" and "taiwan" in first.sections and first.for_brief
    assert first.regional is not None and first.regional > 0.5
    football = stored[outcomes[len(STORIES)].article_id]  # type: ignore[index]
    assert football.for_brief is False
    assert service.region_models() == {shipped_model().signature: len(ids)}


def test_rows_without_labels_are_backfilled_at_start_and_reclassify_relabels_all(
    make_service: Callable[..., BriefService],
) -> None:
    service = make_service()
    outcomes = service.ingest(drafts())
    path = service.store.path
    service.close()
    with sqlite3.connect(path) as conn:  # as a database from before the migration would be
        conn.execute(
            "UPDATE articles SET sections = NULL, section = NULL, regional = NULL, "
            "for_brief = NULL, region_model = NULL WHERE id <= 3"
        )
    service = make_service()
    assert service.region_models() == {None: 3, shipped_model().signature: len(outcomes) - 3}
    service.warm_up()
    assert service.region_models() == {shipped_model().signature: len(outcomes)}
    first = service.store.articles.by_ids([outcomes[0].article_id or 0])
    assert next(iter(first.values())).section == "taiwan"
    seen: list[int] = []
    assert service.reclassify(seen.append) == len(outcomes)
    assert seen == [len(outcomes)]
