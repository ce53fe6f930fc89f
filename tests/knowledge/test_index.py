"""The search index with its IVF index on (a tiny BRIEF_ANN_THRESHOLD): articles added, changed
and removed reach the next answer; a saved index is loaded, and a corrupt or stale one is
rebuilt while answers come from the exact scan; float32 embeddings still read."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from knowledge import ann
from knowledge.embedder import from_blobs, to_blob
from knowledge.service import BriefService

ARTICLES = [
    (
        "Typhoon Haikui floods southern Taiwan villages",
        "Typhoon Haikui made landfall in southern Taiwan on Sunday, flooding villages in "
        "Pingtung county and forcing thousands of residents to evacuate to shelters.",
    ),
    (
        "Vietnam and China trade accusations over Paracel fishing boats",
        "Vietnam accused the Chinese coast guard of ramming fishing boats near the Paracel "
        "Islands, while Beijing said the boats had entered its waters illegally.",
    ),
    (
        "Indonesia moves its capital to Nusantara in Borneo",
        "Indonesia began moving ministries to Nusantara, its new capital in East Kalimantan "
        "on Borneo, as Jakarta sinks and traffic chokes the old capital.",
    ),
    (
        "Japan's central bank raises interest rates for the first time in years",
        "The Bank of Japan raised its benchmark interest rate, ending years of negative "
        "rates, as inflation stayed above its two percent target and wages rose.",
    ),
    (
        "Fiji hosts Pacific Islands Forum leaders on climate finance",
        "Pacific Islands Forum leaders met in Suva, Fiji, to press rich nations for climate "
        "finance as rising seas threaten low-lying atolls across the region.",
    ),
    (
        "Sri Lanka secures IMF bailout after debt default",
        "Sri Lanka won approval for an International Monetary Fund bailout, a year after it "
        "defaulted on its foreign debt amid shortages of fuel and medicine.",
    ),
]
QUERY = "Typhoon Haikui floods Taiwan"
THRESHOLD = 4  # rows from which the graphs answer: every store here is above it


def records(rows: list[tuple[str, str]], start: int = 1) -> list[tuple[int, object]]:
    return [
        (
            i,
            {
                "title": title,
                "text": text,
                "url": f"https://example.com/a{i}",
                "source": "example.com",
                "published": "2026-03-01T08:00:00Z",
            },
        )
        for i, (title, text) in enumerate(rows, start)
    ]


def titles(service: BriefService, query: str) -> list[str]:
    return [h.article.title for h in service.ask(query).hits]


@pytest.fixture
def ann_service(make_service: Callable[..., BriefService]) -> BriefService:
    service = make_service(ann_threshold=THRESHOLD)
    report = service.import_records(records(ARTICLES))
    assert report.imported == len(ARTICLES)
    service.warm_up()
    assert service.searcher.index.wait_built(60)
    assert service.searcher.index.snapshot().uses_graphs
    return service


def test_added_changed_and_removed_articles_reach_the_next_answer_with_graphs_on(
    ann_service: BriefService,
) -> None:
    service = ann_service
    assert titles(service, QUERY)[:1] == [ARTICLES[0][0]]

    new_title = "Earthquake of magnitude 7 strikes off Mindanao in the Philippines"
    service.import_records(
        records(
            [
                (
                    new_title,
                    "A strong earthquake struck off Mindanao, the Philippines' "
                    "southern island, and a tsunami warning was issued for nearby coasts.",
                )
            ],
            50,
        )
    )
    assert service.searcher.index.snapshot().graphs.upto < len(service.searcher.index)
    assert titles(service, "Mindanao earthquake Philippines")[:1] == [new_title]

    # a changed article: its new words and vector answer, the old ones no longer do
    article_id = service.store.articles.known_urls(["https://example.com/a3"])[
        "https://example.com/a3"
    ]
    changed_title = "Mongolia's herders lose livestock to a harsh dzud winter"
    changed_text = (
        "A dzud, a brutal winter of deep snow and extreme cold, killed millions of livestock "
        "across Mongolia, leaving herding families without income."
    )
    vector = service.embedder.encode([f"{changed_title}. {changed_text}"])[0]
    assert service.store.articles.update(
        article_id,
        title=changed_title,
        text=changed_text,
        summary=changed_text,
        embedding=to_blob(vector),
    )
    assert titles(service, "Mongolia dzud winter livestock")[:1] == [changed_title]
    assert ARTICLES[2][0] not in titles(service, "Indonesia new capital Nusantara Borneo")

    # a removed article is gone from the next answer
    typhoon = service.store.articles.known_urls(["https://example.com/a1"])[
        "https://example.com/a1"
    ]
    assert service.store.articles.delete([typhoon]) == 1
    assert ARTICLES[0][0] not in titles(service, QUERY)
    snap = service.searcher.index.snapshot()
    assert snap.live == service.store.articles.count()


def test_a_saved_index_is_loaded_and_follows_what_was_stored_since(
    ann_service: BriefService, make_service: Callable[..., BriefService]
) -> None:
    path = ann_service.settings.index_path
    assert (path / "meta.json").exists()
    ann_service.close()
    later = make_service(ann_threshold=THRESHOLD)
    extra = "Cambodia opens its new Funan Techo canal to the sea"
    # stored by another process while no index was running
    later.store.articles.delete(
        [later.store.articles.known_urls(["https://example.com/a6"])["https://example.com/a6"]]
    )
    later.import_records(
        records(
            [
                (
                    extra,
                    "Cambodia broke ground on the Funan Techo canal "
                    "linking the Mekong to the Gulf of Thailand.",
                )
            ],
            70,
        )
    )
    later.warm_up()
    assert later.searcher.index.status == "loaded"
    assert later.searcher.index.snapshot().uses_graphs  # answering from the saved graphs
    assert titles(later, "Funan Techo canal Cambodia")[:1] == [extra]
    assert ARTICLES[5][0] not in titles(later, "Sri Lanka IMF bailout debt")
    assert titles(later, QUERY)[:1] == [ARTICLES[0][0]]


class GatedBuild:
    """Holds the background build until released, to see the answers given meanwhile."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        real = ann.AnnGraph.build.__func__  # type: ignore[attr-defined]

        def build(cls, keys, vectors, threads=1):  # type: ignore[no-untyped-def]
            self.started.set()
            assert self.release.wait(60)
            return real(cls, keys, vectors, threads)

        monkeypatch.setattr(ann.AnnGraph, "build", classmethod(build))


@pytest.mark.parametrize("damage", ["checksum", "truncated", "meta"])
def test_a_corrupt_saved_index_is_rebuilt_with_answers_meanwhile(
    ann_service: BriefService,
    make_service: Callable[..., BriefService],
    monkeypatch: pytest.MonkeyPatch,
    damage: str,
) -> None:
    path = ann_service.settings.index_path
    ann_service.close()
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    vectors = path / meta["files"]["vectors"]
    if damage == "checksum":
        data = bytearray(vectors.read_bytes())
        data[-10:] = b"\xff" * 10
        vectors.write_bytes(bytes(data))
    elif damage == "truncated":
        graph = path / meta["graphs"][0]["file"]
        graph.write_bytes(graph.read_bytes()[:100])
    else:
        (path / "meta.json").write_text("{not json", encoding="utf-8")
    gate = GatedBuild(monkeypatch)
    restarted = make_service(ann_threshold=THRESHOLD)
    restarted.warm_up()
    index = restarted.searcher.index
    assert index.status == "rebuilding"
    assert gate.started.wait(60)
    assert not index.snapshot().uses_graphs  # the graph is still being built ...
    assert titles(restarted, QUERY)[:1] == [ARTICLES[0][0]]  # ... and the exact scan answers
    gate.release.set()
    assert index.wait_built(60)
    assert index.snapshot().uses_graphs
    assert titles(restarted, QUERY)[:1] == [ARTICLES[0][0]]
    restarted.close()
    again = make_service(ann_threshold=THRESHOLD)
    again.warm_up()
    assert again.searcher.index.status == "loaded"  # the rebuilt index was saved


def test_a_stale_saved_index_is_rebuilt_from_the_store(
    ann_service: BriefService, make_service: Callable[..., BriefService], tmp_path: Path
) -> None:
    """An index saved for another store (or before the store was restored from a backup)
    does not match its row count and last change: it is not used."""
    path = ann_service.settings.index_path
    ann_service.close()
    other = make_service(db=tmp_path / "other.db", index_dir=path, ann_threshold=THRESHOLD)
    other.import_records(records(ARTICLES[3:], 100))
    other.warm_up()
    assert other.searcher.index.status == "rebuilding"
    assert ARTICLES[0][0] not in titles(other, QUERY)
    assert titles(other, "Bank of Japan raises interest rates")[:1] == [ARTICLES[3][0]]
    assert other.searcher.index.wait_built(60)
    assert other.searcher.index.snapshot().live == 3


def test_float32_embeddings_from_an_older_store_still_read() -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((3, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blobs = [vectors[0].tobytes(), to_blob(vectors[1]), vectors[2].tobytes()]
    assert [len(b) for b in blobs] == [1536, 768, 1536]
    read = from_blobs(blobs)
    assert np.allclose(read, vectors, atol=1e-3)
    with pytest.raises(ValueError, match="100 bytes"):
        from_blobs([b"x" * 100])
