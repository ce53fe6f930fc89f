"""Search with the real model: the seed, the relevance decision, paging, stories, bad queries."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from knowledge.errors import QueryError
from knowledge.index import DenseIndex
from knowledge.search import keyword_query
from knowledge.service import BriefService

SEED_TITLE = (
    "U.S. Defense Secretary Vows to 'Stoutly Defend' Indo-Pacific Interests in Talks with China"
)


@pytest.fixture
def seeded(make_service: Callable[..., BriefService]) -> BriefService:
    service = make_service()
    report = service.seed()
    assert report.imported == 1
    return service


def test_seed_twice_adds_nothing(seeded: BriefService) -> None:
    again = seeded.seed()
    assert (again.imported, again.duplicates) == (0, 1)
    stats = seeded.stats()
    assert (stats.articles, stats.sources) == (1, 12)


@pytest.mark.parametrize(
    "query",
    ["Taiwan reunification", "Taiwan", "Hegseth Dong Jun", "US India defence framework"],
)
def test_seed_article_answers_regional_queries(seeded: BriefService, query: str) -> None:
    brief = seeded.ask(query)
    assert [h.article.title for h in brief.hits] == [SEED_TITLE]
    hit = brief.hits[0]
    assert hit.article.published is not None
    assert hit.article.published.date().isoformat() == "2025-10-31"
    assert 0 < len(hit.article.summary) <= 600
    assert hit.article.summary.startswith("U.S. Defense Secretary Pete Hegseth")


@pytest.mark.parametrize(
    "query", ["Antarctic krill fishing quotas", "recipe for chocolate cake", "Premier League"]
)
def test_nothing_relevant_is_an_empty_answer(seeded: BriefService, query: str) -> None:
    brief = seeded.ask(query)
    assert brief.hits == ()
    assert brief.total == 0


@pytest.mark.parametrize("query", ["", "   ", "\n\t "])
def test_empty_query_is_refused_clearly(seeded: BriefService, query: str) -> None:
    with pytest.raises(QueryError, match="Send a topic"):
        seeded.ask(query)


def test_ten_thousand_character_query_is_refused_clearly(seeded: BriefService) -> None:
    with pytest.raises(QueryError, match="10,000 characters long; please keep it under 1,000"):
        seeded.ask("T" * 10_000)


def test_pages_do_not_overlap_and_total_is_stable(
    make_service: Callable[..., BriefService],
) -> None:
    # one region topic that every story here is about, so /latest lists them all (whether
    # "Taiwan election" stories belong to "Taiwan Strait tensions" is the model's call)
    service = make_service(brief_size=2, topics={"Taiwan": "Taiwan"})
    topics = ["drills", "election", "arms sale", "coast guard", "typhoon", "trade talks"]
    records = [
        (
            i,
            {
                "title": f"Taiwan {topic} dominate the week",
                "text": f"Taiwan faced news on {topic} this week, officials in Taipei said.",
                "url": f"https://example.com/{i}",
                "published": f"2025-10-{10 + i:02d}",
            },
        )
        for i, topic in enumerate(topics, start=1)
    ]
    service.import_records(records)
    first = service.ask("Taiwan")
    second = service.ask("Taiwan", offset=2)
    assert len(first.hits) == len(second.hits) == 2
    assert first.total == second.total >= 4
    assert first.has_more
    assert not {h.article.id for h in first.hits} & {h.article.id for h in second.hits}
    newest = service.latest(k=3)
    assert [h.article.url for h in newest.hits] == [f"https://example.com/{i}" for i in (6, 5, 4)]


def test_keyword_query_quotes_words_and_drops_noise() -> None:
    assert keyword_query('AUKUS "submarines" OR NEAR(x)') == '"aukus" OR "submarines" OR "near"'
    assert keyword_query("the of and") == ""
    assert keyword_query("x" * 10) == '"xxxxxxxxxx"'


def test_dense_index_finds_rows_and_stories_within_the_window() -> None:
    index = DenseIndex()
    vectors = np.eye(3, 384, dtype=np.float32)
    index.add_arrays(np.array([3, 5, 9]), np.array([3, 3, 9]), np.array([0.0, 10.0, 1e9]), vectors)
    snap = index.snapshot()
    assert snap.rows_of([5, 4, 9, 100]).tolist() == [1, -1, 2, -1]
    assert snap.story_of_rows(np.array([1])).tolist() == [3]
    probe = np.eye(3, 384, dtype=np.float32)[[0, 2]]
    found = snap.nearest_stories(probe, np.array([5.0, 5.0]), window_s=100, threshold=0.9)
    assert found == [3, None]  # row 9 is identical but outside the window


def test_the_index_holds_float16_and_refines_the_rows_it_keeps() -> None:
    rng = np.random.default_rng(3)
    size = 21_001
    vectors = rng.standard_normal((size, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex()
    ids = np.arange(1, size + 1)
    index.add_arrays(ids, ids, np.zeros(size), vectors)
    snap = index.snapshot()
    assert all(block.dtype == np.float16 for block in snap.blocks)
    held = vectors.astype(np.float16).astype(np.float32)  # what the index holds
    query = vectors[size - 1] + 0.5 * vectors[7]
    query /= np.linalg.norm(query)
    exact = held @ query
    assert np.allclose(snap.similarities(query), exact, atol=1e-5)
    coarse = snap.similarities(query, exact=False)
    assert np.abs(coarse - exact).max() < 5e-3
    rows = np.array([size - 1, 7, 12], dtype=np.int64)
    snap.refine(coarse, rows, query)
    assert np.allclose(coarse[rows], exact[rows], atol=1e-6)
    assert np.abs(exact - vectors @ query).max() < 2e-3  # float16 at rest: scores as before


def test_search_over_a_large_index_keeps_the_exact_top_rows(seeded: BriefService) -> None:
    rng = np.random.default_rng(5)
    size = 40_000
    vectors = rng.standard_normal((size, 384)).astype(np.float32)
    vectors[: size // 2] += 2.0 * vectors[0]  # many rows close together: ties for the coarse scan
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = DenseIndex()
    ids = np.arange(1, size + 1)
    index.add_arrays(ids, ids, np.zeros(size), vectors)
    query = vectors[3]
    sims, top = seeded.searcher._dense(index.snapshot(), query)
    exact = vectors.astype(np.float16).astype(np.float32) @ query
    n = seeded.searcher.tuning.candidates
    assert top.tolist() == np.argsort(-exact, kind="stable")[:n].tolist()
    assert np.allclose(sims[top], exact[top], atol=1e-6)


def test_the_service_runs_numpy_blas_single_threaded(seeded: BriefService) -> None:
    from threadpoolctl import threadpool_info

    blas = [lib for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_the_service_gives_torch_the_threads_its_settings_say(
    make_service: Callable[..., BriefService],
) -> None:
    import torch

    make_service(model_threads=2)
    assert torch.get_num_threads() == 2
    make_service()  # the shipped setting
    assert torch.get_num_threads() == 1


def test_relevant_judges_exactly_the_given_stories(seeded: BriefService) -> None:
    seed_id = seeded.ask("Taiwan").hits[0].article.id
    judged = seeded.relevant("Taiwan reunification", story_ids=[seed_id, 10**9])
    assert list(judged) == [seed_id]  # an unknown id is ignored
    assert seeded.settings.relevance_threshold <= judged[seed_id] <= 1.0
    assert seeded.relevant("recipe for chocolate cake", story_ids=[seed_id]) == {}
    assert seeded.relevant("Taiwan", story_ids=[]) == {}
    assert seeded.relevant("Taiwan") == {seed_id: judged_again(seeded, seed_id)}


def judged_again(service: BriefService, story_id: int) -> float:
    """The probability `ask` reports for a story, as its Hit.score."""
    return next(h.score for h in service.ask("Taiwan").hits if h.article.id == story_id)


def test_the_threshold_setting_decides(make_service: Callable[..., BriefService]) -> None:
    strict = make_service(relevance_threshold=0.999)
    strict.seed()
    assert strict.ask("Taiwan reunification").hits == ()
