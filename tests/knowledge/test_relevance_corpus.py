"""The relevance decision on the real corpus with the real model: an unrelated question gets
nothing, a topic question gets on-topic stories, a one-word topic gets at least three.

To stay well under a minute, the store holds a labelled slice of ../shared/data (every South
China Sea, East China Sea and Taiwan item, every item naming Pyongyang, and a fixed sample of
other articles and distractors), imported once per module with the real model."""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from knowledge.build import build_service
from knowledge.embedder import Embedder
from knowledge.service import BriefService
from knowledge.settings import load_settings

pytestmark = pytest.mark.slow

FOCUS = {"south_china_sea", "east_china_sea", "taiwan"}
OTHERS, DISTRACTORS = 150, 100


def _rows(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.fixture(scope="module")
def corpus(
    shared_data: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[BriefService, dict[str, dict[str, Any]]]]:
    """A service over the labelled slice; titles map back to the corpus records."""
    folder = shared_data / "news_asia_pacific"
    articles, distractors = (
        _rows(folder / "articles.jsonl.gz"),
        _rows(folder / "distractors.jsonl.gz"),
    )
    pyongyang = re.compile(r"\bPyongyang\b", re.IGNORECASE)
    chosen = [
        r
        for r in articles
        if FOCUS & set(r["topics"]) or pyongyang.search(f"{r['title']} {r['text']}")
    ]
    rng = random.Random(5)
    rest = [r for r in articles if r not in chosen]
    chosen += rng.sample(rest, OTHERS) + rng.sample(distractors, DISTRACTORS)
    settings = load_settings(db=tmp_path_factory.mktemp("corpus") / "brief.db")
    service = build_service(settings, embedder=embedder)
    service.import_records(list(enumerate(chosen, start=1)))
    by_title = {" ".join(r["title"].split()): r for r in chosen if r.get("title")}
    yield service, by_title
    service.close()


@pytest.mark.parametrize(
    "query", ["Antarctic krill fishing quotas", "recipe for chocolate cake", "AUKUS submarines"]
)
def test_an_unrelated_question_gets_nothing(
    corpus: tuple[BriefService, dict[str, dict[str, Any]]], query: str
) -> None:
    service, _ = corpus
    brief = service.ask(query)
    assert brief.hits == (), [h.article.title for h in brief.hits]


def test_a_topic_question_gets_on_topic_stories(
    corpus: tuple[BriefService, dict[str, dict[str, Any]]],
) -> None:
    service, by_title = corpus
    brief = service.ask("what's going on in the south china sea")
    assert len(brief.hits) >= 3
    labels = [by_title[" ".join(h.article.title.split())]["topics"] for h in brief.hits[:5]]
    on_topic = sum("south_china_sea" in topics for topics in labels)
    assert on_topic >= min(4, len(labels)), labels


def test_a_one_word_topic_gets_at_least_three_stories_about_it(
    corpus: tuple[BriefService, dict[str, dict[str, Any]]],
) -> None:
    service, by_title = corpus
    brief = service.ask("Pyongyang")
    assert len(brief.hits) >= 3
    for hit in brief.hits[:3]:
        record = by_title[" ".join(hit.article.title.split())]
        assert "korea" in record["topics"], hit.article.title


def test_judging_given_stories_agrees_with_the_answer(
    corpus: tuple[BriefService, dict[str, dict[str, Any]]],
) -> None:
    service, _ = corpus
    answered = {h.article.id for h in service.ask("Taiwan", k=10).hits}
    judged = service.relevant("Taiwan", story_ids=answered | {10**9})
    assert set(judged) == answered  # the same decision; an unknown id is ignored
    assert all(0.0 < p <= 1.0 for p in judged.values())
