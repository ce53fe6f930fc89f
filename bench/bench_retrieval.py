"""Retrieval quality: each headline of articles.jsonl.gz as a query for its own article, over
a DB holding the Asia-Pacific articles plus distractors.jsonl.gz; MRR@10, Recall@1, Recall@10
for keyword-only, dense-only and hybrid ranking (Searcher.rank), a small fusion grid, and the
similarity floors: how often they drop the target, and how often off-topic queries (distractor
headlines against the Asia-only DB) get nothing.

Run: .venv/bin/python bench/bench_retrieval.py [--quick]
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
import numpy as np

from knowledge.build import build_service
from knowledge.errors import ImportRecordError
from knowledge.records import draft_from_record
from knowledge.search import RankedStory, Searcher, SearchTuning
from knowledge.service import BriefService
from knowledge.text import content_hash

K = 10
HAND_QUERIES = (
    "Antarctic krill fishing quotas",
    "recipe for chocolate cake",
    "Premier League transfer news",
    "Bitcoin price",
    "Brexit negotiations",
)
UNCOVERED_TOPICS = ("Scarborough Shoal", "AUKUS submarines")  # never mentioned in the corpus
# Short queries per dataset topic label, judged by precision@10 against the labels (which the
# dataset's keyword filter assigned, so they lean towards the keyword ranker).
LABEL_QUERIES: dict[str, tuple[str, ...]] = {
    "south_china_sea": ("South China Sea disputes", "Spratly Islands", "Paracel Islands oil rig"),
    "taiwan": ("Taiwan Strait tensions", "Taiwan independence", "Taipei"),
    "korea": ("North Korea missile", "Kim Jong Un", "Seoul"),
    "japan": ("Japan East China Sea Senkaku", "Shinzo Abe", "Tokyo"),
    "east_china_sea": ("East China Sea", "Senkaku islands dispute"),
    "india_south_asia": ("India Indian Ocean navy", "Modi election", "Pakistan"),
    "southeast_asia_asean": ("ASEAN summit", "Thailand coup", "Vietnam"),
    "australia_nz": ("Australia Pacific Islands", "New Zealand election", "Canberra"),
    "pacific_islands": ("Pacific Islands", "Fiji election", "Papua New Guinea"),
    "regional_security_frameworks": (
        "Quad AUKUS alliance",
        "Indo-Pacific strategy",
        "TPP trade deal",
    ),
    "china": ("Xi Jinping", "Beijing", "Chinese economy"),
}
# The floor rule: the most distractors emptied while losing ≤ 1% of headline targets and
# answering ≥ 95% of the covered short topics.
MAX_TARGET_LOST = 0.01
MIN_TOPICS_ANSWERED = 0.95
RRF_KS = (1, 10, 30, 60)
WEIGHTS = ((1.0, 1.0), (1.0, 0.5), (0.5, 1.0), (0.25, 1.0))
CANDIDATES = (20, 50, 100)
SCORE_WEIGHTS = ((0.1, 0.9), (0.2, 0.8), (0.3, 0.7), (0.5, 0.5))
FLOORS = (0.30, 0.35, 0.40, 0.45, 0.50)
KEYWORD_FLOORS = (0.15, 0.25, 0.35, 0.40, 0.45, 0.50)
QUICK_QUERIES = 800


@dataclass(frozen=True, slots=True)
class Query:
    """A headline and the story its own article ended up in."""

    text: str
    target: int


@dataclass(frozen=True, slots=True)
class Scores:
    """Ranking quality over a query set."""

    mrr: float
    r1: float
    r10: float
    empty: float  # share of queries answered with nothing

    def cells(self) -> list[str]:
        """Formatted table cells."""
        return [f"{self.mrr:.4f}", f"{self.r1:.4f}", f"{self.r10:.4f}", f"{self.empty:.2%}"]


def score(results: Sequence[Sequence[int]], targets: Sequence[int]) -> Scores:
    """MRR@10, Recall@1, Recall@10 and the empty share of ranked story-id lists."""
    rr = hits1 = hits10 = empty = 0.0
    for ranked, target in zip(results, targets, strict=True):
        top = list(ranked[:K])
        if not ranked:
            empty += 1
        if target in top:
            pos = top.index(target) + 1
            rr += 1.0 / pos
            hits1 += pos == 1
            hits10 += 1
    n = max(len(targets), 1)
    return Scores(rr / n, hits1 / n, hits10 / n, empty / n)


def open_service(db: Path) -> BriefService:
    """A service on `db` with the index loaded."""
    service = build_service(common.make_settings(db), embedder=common.embedder())
    service.warm_up()
    return service


def memoise_keyword_search(service: BriefService) -> None:
    """Cache FTS answers per (MATCH, limit): the grid reruns the same queries many times."""
    original = service.store.articles.keyword_search
    memo: dict[tuple[str, int], list[tuple[int, float]]] = {}

    def cached(match: str, limit: int) -> list[tuple[int, float]]:
        key = (match, limit)
        if key not in memo:
            memo[key] = original(match, limit)
        return list(memo[key])

    service.store.articles.keyword_search = cached  # type: ignore[method-assign]


def story_of_articles(
    db: Path, rows: Sequence[dict[str, Any]]
) -> tuple[list[Query], dict[int, set[str]], int]:
    """Each valid article's headline and its story id (coalesce(story_id, id)); the dataset's
    topic labels by stored article id; and how many valid articles were not found."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    queries: list[Query] = []
    labels: dict[int, set[str]] = {}
    missing = 0
    for row in rows:
        try:
            draft = draft_from_record(row)
        except ImportRecordError:
            continue  # rejected on import (empty text): not in the DB
        found = None
        if draft.url:
            found = conn.execute(
                "SELECT id, coalesce(story_id, id) FROM articles WHERE url = ?", (draft.url,)
            ).fetchone()
        if found is None:
            digest = content_hash(f"{draft.title}\n{draft.text}")
            found = conn.execute(
                "SELECT id, coalesce(story_id, id) FROM articles WHERE content_hash = ? "
                "ORDER BY source != ?, id LIMIT 1",
                (digest, draft.source),
            ).fetchone()
        if found is None:
            missing += 1
            continue
        labels.setdefault(int(found[0]), set()).update(row.get("topics") or ())
        queries.append(Query(" ".join(str(row["title"]).split()), int(found[1])))
    conn.close()
    return queries, labels, missing


def run(
    searcher: Searcher,
    texts: Sequence[str],
    vectors: np.ndarray,
    mode: str = "hybrid",
    tuning: SearchTuning | None = None,
) -> list[list[RankedStory]]:
    """Searcher.rank for every query, with the given tuning."""
    saved = searcher.tuning
    if tuning is not None:
        searcher.tuning = tuning
    try:
        return [searcher.rank(q, vectors[i], mode=mode) for i, q in enumerate(texts)]
    finally:
        searcher.tuning = saved


def ids(results: Sequence[Sequence[RankedStory]]) -> list[list[int]]:
    """Story ids of ranked lists."""
    return [[r.story_id for r in ranked] for ranked in results]


def apply_floors(
    ranked: Sequence[RankedStory], matched: set[int], floor: float, keyword_floor: float
) -> list[int]:
    """search.py's floor, applied to an unfloored hybrid list (the order does not change)."""
    return [
        r.story_id
        for r in ranked
        if r.similarity >= (keyword_floor if r.story_id in matched else floor)
    ]


@dataclass
class Probe:
    """A query set run once with the floors off: the unfloored hybrid lists and, per query, the
    stories the keyword ranker found (the floor rule needs both)."""

    name: str
    texts: list[str]
    hybrid: list[list[RankedStory]]
    matched: list[set[int]]

    @classmethod
    def run(
        cls, name: str, searcher: Searcher, texts: Sequence[str], vectors: np.ndarray, off: Any
    ) -> Probe:
        """Rank `texts` in hybrid and keyword mode with the floors off."""
        hybrid = run(searcher, texts, vectors, "hybrid", off)
        keyword = run(searcher, texts, vectors, "keyword", off)
        return cls(name, list(texts), hybrid, [{r.story_id for r in k} for k in keyword])

    def floored(self, floor: float, keyword_floor: float) -> list[list[int]]:
        """Story ids that survive these floors, per query."""
        return [
            apply_floors(r, m, floor, keyword_floor)
            for r, m in zip(self.hybrid, self.matched, strict=True)
        ]

    def answered(self, floor: float, keyword_floor: float) -> int:
        """Queries that get at least one story."""
        return sum(bool(r) for r in self.floored(floor, keyword_floor))

    def top_similarity(self) -> list[float]:
        """Per query, the best similarity among its unfloored candidates."""
        return [max((r.similarity for r in ranked), default=-1.0) for ranked in self.hybrid]


def main(quick: bool = False) -> str:
    """Run the benchmark; return its markdown section."""
    started = time.perf_counter()
    load_before = common.load_average()
    asia_db, full_db = common.corpus_dbs()
    meta = common.corpus_meta()
    article_rows = common.read_rows(common.ARTICLES)
    distractor_rows = common.read_rows(common.DISTRACTORS)

    queries, labels, missing = story_of_articles(full_db, article_rows)
    if quick:
        queries = queries[:: max(1, len(queries) // QUICK_QUERIES)]
    texts = [q.text for q in queries]
    targets = [q.target for q in queries]
    model = common.embedder()
    t0 = time.perf_counter()
    vectors = model.encode(texts)
    embed_s = time.perf_counter() - t0

    full = open_service(full_db)
    memoise_keyword_search(full)
    searcher = full.searcher
    defaults = searcher.tuning
    off = dataclasses.replace(defaults, floor=-1.0, keyword_floor=-1.0)
    n_articles = full.store.articles.count()
    n_stories = full.store.articles.story_count()

    common.log(f"retrieval: {len(texts)} queries over {n_articles} articles")
    t0 = time.perf_counter()
    by_mode = {m: run(searcher, texts, vectors, m, off) for m in ("keyword", "dense", "hybrid")}
    rank_s = (time.perf_counter() - t0) / (3 * len(texts))
    floored = ids(run(searcher, texts, vectors, "hybrid", defaults))
    main_scores = {m: score(ids(r), targets) for m, r in by_mode.items()}
    main_scores["hybrid, default floors"] = score(floored, targets)
    headlines = Probe(
        "headlines",
        texts,
        by_mode["hybrid"],
        [{r.story_id for r in ranked} for ranked in by_mode["keyword"]],
    )
    mismatches = sum(
        e != f
        for e, f in zip(
            headlines.floored(defaults.floor, defaults.keyword_floor), floored, strict=True
        )
    )
    checked = len(texts)
    base_ids = ids(by_mode["hybrid"])

    # fusion grid (floors off), and the same grid tuned on one half and judged on the other
    common.log("retrieval: fusion grid")
    grid: list[tuple[str, float, float, int, Scores, Scores, Scores, float]] = []
    label_texts = [q for group in LABEL_QUERIES.values() for q in group]
    label_of = [label for label, group in LABEL_QUERIES.items() for _ in group]
    label_vectors = model.encode(label_texts)

    def label_precision(mode: str, tuning: SearchTuning) -> float:
        found = ids(run(searcher, label_texts, label_vectors, mode, tuning))
        return sum(
            sum(label in labels.get(story, ()) for story in top[:K]) / K
            for label, top in zip(label_of, found, strict=True)
        ) / len(label_texts)

    label_p = {m: label_precision(m, off) for m in ("keyword", "dense")}
    half_a = list(range(0, len(texts), 2))
    half_b = list(range(1, len(texts), 2))

    def halves(result: list[list[int]]) -> tuple[Scores, Scores]:
        return (
            score([result[i] for i in half_a], [targets[i] for i in half_a]),
            score([result[i] for i in half_b], [targets[i] for i in half_b]),
        )

    # method: "score" (weighted cosine + scaled bm25) or "rrf k=N" (reciprocal rank fusion)
    settings_grid: list[tuple[str, tuple[float, float], int]] = [
        ("score", w, defaults.candidates) for w in SCORE_WEIGHTS
    ]
    settings_grid += [
        ("score", (defaults.dense_weight, defaults.keyword_weight), c) for c in CANDIDATES
    ]
    settings_grid += [(f"rrf k={k}", w, defaults.candidates) for k in RRF_KS for w in WEIGHTS]
    settings_grid += [("rrf k=60", (1.0, 1.0), c) for c in CANDIDATES]
    for method, (dw, kw), cand in dict.fromkeys(settings_grid):
        fusion = "score" if method == "score" else "rrf"
        rrf_k = int(method.split("=")[1]) if fusion == "rrf" else defaults.rrf_k
        tuning = dataclasses.replace(
            off,
            fusion=fusion,
            rrf_k=rrf_k,
            dense_weight=dw,
            keyword_weight=kw,
            candidates=cand,
        )
        result = ids(run(searcher, texts, vectors, "hybrid", tuning))
        a, b = halves(result)
        p10 = label_precision("hybrid", tuning)
        grid.append((method, dw, kw, cand, score(result, targets), a, b, p10))
    best_all = max(grid, key=lambda g: g[4].mrr)
    best_a = max(grid, key=lambda g: g[5].mrr)
    default_key = (
        "score" if defaults.fusion == "score" else f"rrf k={defaults.rrf_k}",
        defaults.dense_weight,
        defaults.keyword_weight,
        defaults.candidates,
    )
    default_row = next(g for g in grid if (g[0], g[1], g[2], g[3]) == default_key)
    keyword_a, keyword_b = halves(ids(by_mode["keyword"]))
    full.close()

    # the floors: off-topic headlines, short in-region topics and hand-written queries against
    # the Asia-only DB
    common.log("retrieval: floors")
    asia = open_service(asia_db)
    memoise_keyword_search(asia)
    off_texts = [" ".join(str(r["title"]).split()) for r in distractor_rows]
    if quick:
        off_texts = off_texts[::4]
    covered = [q for q in common.TOPIC_QUERIES if q not in UNCOVERED_TOPICS]
    probes: dict[str, Probe] = {}
    for name, group in (
        ("distractors", off_texts),
        ("topics", covered),
        ("uncovered", list(UNCOVERED_TOPICS)),
        ("hand", list(HAND_QUERIES)),
    ):
        group_vectors = model.encode(group)
        probes[name] = Probe.run(name, asia.searcher, group, group_vectors, off)
        real = ids(run(asia.searcher, group, group_vectors, "hybrid", defaults))
        emulated = probes[name].floored(defaults.floor, defaults.keyword_floor)
        mismatches += sum(e != f for e, f in zip(emulated, real, strict=True))
        checked += len(group)
    hand_rows = []
    for q in (*UNCOVERED_TOPICS, *HAND_QUERIES):
        brief = asia.ask(q)
        top = brief.hits[0] if brief.hits else None
        hand_rows.append(
            [
                f"“{q}”",
                brief.total,
                f"{top.similarity:.3f}" if top else "–",
                _cut(top.article.title) if top else "(nothing: the floor held)",
            ]
        )
    asia_articles = asia.store.articles.count()
    asia.close()

    spread_rows = []
    for label, sims in (
        (
            "headline → own article (full DB)",
            [
                next((r.similarity for r in ranked if r.story_id == t), float("nan"))
                for ranked, t in zip(by_mode["hybrid"], targets, strict=True)
            ],
        ),
        ("in-region short topics, best candidate", probes["topics"].top_similarity()),
        ("distractor headlines, best candidate", probes["distractors"].top_similarity()),
        (
            "topics without coverage + hand-written",
            [
                *probes["uncovered"].top_similarity(),
                *probes["hand"].top_similarity(),
            ],
        ),
    ):
        found = [x for x in sims if x == x]
        spread_rows.append(
            [label, len(found)]
            + [f"{common.percentile(found, p):.3f}" for p in (10, 25, 50, 75, 90)]
        )

    floor_rows = []
    candidates_for_rule: list[tuple[float, float, float]] = []  # (distractors empty, f, kf)
    unfloored_mrr = main_scores["hybrid"].mrr
    for f in FLOORS:
        for kf in KEYWORD_FLOORS:
            if kf > f:
                continue
            on = headlines.floored(f, kf)
            lost = sum(
                t in b[:K] and t not in o[:K]
                for t, b, o in zip(targets, base_ids, on, strict=True)
            )
            is_default = (f, kf) == (defaults.floor, defaults.keyword_floor)
            topics_answered = probes["topics"].answered(f, kf)
            empty_share = 1 - probes["distractors"].answered(f, kf) / len(off_texts)
            if lost / len(
                targets
            ) <= MAX_TARGET_LOST and topics_answered >= MIN_TOPICS_ANSWERED * len(covered):
                candidates_for_rule.append((empty_share, -f, kf))
            nothing_right = (
                len(UNCOVERED_TOPICS)
                + len(HAND_QUERIES)
                - probes["uncovered"].answered(f, kf)
                - probes["hand"].answered(f, kf)
            )
            floor_rows.append(
                [
                    f"**{f:.2f}**" if is_default else f"{f:.2f}",
                    f"**{kf:.2f}**" if is_default else f"{kf:.2f}",
                    f"{lost / len(targets):.2%}",
                    f"{score(on, targets).mrr - unfloored_mrr:+.4f}",
                    f"{topics_answered}/{len(covered)}",
                    f"{empty_share:.1%}",
                    f"{nothing_right}/{len(UNCOVERED_TOPICS) + len(HAND_QUERIES)}",
                ]
            )

    _, neg_f, rec_kf = max(candidates_for_rule)
    rec_f = -neg_f
    unanswered = [
        q for q, r in zip(covered, probes["topics"].floored(rec_f, rec_kf), strict=True) if not r
    ]
    rec_counts = [
        len(r) for name in ("uncovered", "hand") for r in probes[name].floored(rec_f, rec_kf)
    ]
    for row, count in zip(hand_rows, rec_counts, strict=True):
        row.insert(2, count)

    hybrid_wins = main_scores["hybrid"].mrr > max(
        main_scores["keyword"].mrr, main_scores["dense"].mrr
    )
    best_hybrid_wins = best_all[4].mrr > main_scores["keyword"].mrr
    common.target(
        "retrieval",
        "hybrid beats keyword-only and dense-only on MRR@10 (floors off)",
        f"hybrid {main_scores['hybrid'].mrr:.4f}, keyword {main_scores['keyword'].mrr:.4f}, "
        f"dense {main_scores['dense'].mrr:.4f}; best grid setting {best_all[4].mrr:.4f}",
        hybrid_wins,
    )
    empty_default = 1 - probes["distractors"].answered(
        defaults.floor, defaults.keyword_floor
    ) / len(off_texts)
    empty_rec = 1 - probes["distractors"].answered(rec_f, rec_kf) / len(off_texts)
    common.target(
        "retrieval",
        "off-topic queries get nothing (distractor headlines, Asia-only DB)",
        f"{empty_default:.1%} empty with the default floors; {empty_rec:.1%} with "
        f"floor={rec_f:.2f}, keyword_floor={rec_kf:.2f}",
        None,
    )
    out: list[str] = [
        "## Retrieval quality (bench/bench_retrieval.py)",
        "",
        "This section measures `Searcher.rank`: the score fusion and similarity floors that "
        "`ask` used before the relevance model, kept for comparison. What `ask` does now "
        "(the relevance model's ranking and decision, headline → article included) is "
        "measured in bench/bench_relevance.py.",
        "",
    ]
    arts = meta.get("articles", {})
    dis = meta.get("distractors", {})
    out.append(
        f"Corpus imported through `BriefService.import_records` with the real model: "
        f"articles.jsonl.gz → {arts.get('imported', '?')} stored, "
        f"{len(arts.get('rejected', []))} rejected ({_reasons(arts)}), "
        f"{arts.get('duplicates', '?')} duplicates, {arts.get('linked', '?')} linked as "
        f"near-duplicates; distractors.jsonl.gz → {dis.get('imported', '?')} stored, "
        f"{dis.get('duplicates', '?')} duplicates, {dis.get('linked', '?')} linked. "
        f"DB: {n_articles:,} articles, {n_stories:,} stories. "
        f"Queries: {len(texts):,} headlines{' (quick: a sample)' if quick else ''}, "
        f"each targeting its own article's story ({missing} articles not found in the DB). "
        f"`Searcher.rank(query, vector, mode)` with the query vectors embedded in one batch "
        f"({1000 * embed_s / len(texts):.1f} ms/query); "
        f"{1000 * rank_s:.2f} ms/query/mode with FTS answers memoised."
    )
    out += ["", "### Floors off (ranking quality)", ""]
    out.append(
        common.table(
            ["mode", "MRR@10", "Recall@1", "Recall@10", "empty"],
            [[m, *s.cells()] for m, s in main_scores.items()],
        )
    )
    out += [
        "",
        f"Settings: fusion={defaults.fusion}, dense_weight={defaults.dense_weight}, "
        f"keyword_weight={defaults.keyword_weight}, candidates={defaults.candidates}; the last "
        f"row uses the default floors (floor={defaults.floor}, "
        f"keyword_floor={defaults.keyword_floor}). "
        f"**With the defaults, hybrid {'beats' if hybrid_wins else 'does NOT beat'} both single "
        f"rankers on MRR@10; the best grid setting "
        f"{'beats' if best_hybrid_wins else 'does not beat'} keyword-only "
        f"({best_all[4].mrr:.4f} vs {main_scores['keyword'].mrr:.4f}).** "
        "A headline is a near-exact match of the indexed title, which FTS5 weighs 10× "
        "(bm25 10/4/1): this query set favours the keyword ranker.",
        "",
        "### Fusion grid (floors off)",
        "",
        "Half A = even-numbered queries, half B = odd-numbered; tune on A, judge on B. "
        f"Keyword-only for comparison: MRR@10 {main_scores['keyword'].mrr:.4f} "
        f"(A {keyword_a.mrr:.4f}, B {keyword_b.mrr:.4f}). 'topic P@10' is a second, small "
        f"check on short queries: {len(label_texts)} topic queries (e.g. “Spratly Islands”, "
        "“Kim Jong Un”), precision@10 against the dataset's topic labels of each story's first "
        "article (distractors count as misses); the labels come from the dataset's keyword "
        f"filter. Keyword-only {label_p['keyword']:.3f}, dense-only {label_p['dense']:.3f}.",
        "",
    ]
    out.append(
        common.table(
            [
                "fusion",
                "dense w",
                "keyword w",
                "candidates",
                "MRR@10",
                "R@1",
                "R@10",
                "MRR@10 A",
                "MRR@10 B",
                "topic P@10",
            ],
            [
                [
                    f"**{k}**" if (k, dw, kw, c) == default_key else k,
                    dw,
                    kw,
                    c,
                    f"{s.mrr:.4f}",
                    f"{s.r1:.4f}",
                    f"{s.r10:.4f}",
                    f"{a.mrr:.4f}",
                    f"{b.mrr:.4f}",
                    f"{p10:.3f}",
                ]
                for k, dw, kw, c, s, a, b, p10 in grid
            ],
        )
    )
    out += [
        "",
        f"Best on all queries: fusion {best_all[0]}, weights=({best_all[1]}, {best_all[2]}), "
        f"candidates={best_all[3]}: MRR@10 {best_all[4].mrr:.4f} (default "
        f"{default_row[4].mrr:.4f}). Tuned on half A: fusion {best_a[0]}, "
        f"weights=({best_a[1]}, {best_a[2]}), candidates={best_a[3]} → on held-out half B "
        f"{best_a[6].mrr:.4f} vs the default's {default_row[6].mrr:.4f} and keyword-only's "
        f"{keyword_b.mrr:.4f}. The 'all queries' rows tune and judge on the same queries.",
        "",
        "### Similarity floors",
        "",
        "Similarity (cosine) of the best candidate per query, percentiles:",
        "",
    ]
    out.append(common.table(["query set", "n", "p10", "p25", "p50", "p75", "p90"], spread_rows))
    out += [
        "",
        f"Floor sweep. Headlines = the {len(texts):,} queries above over the full DB ('target "
        "lost' = in the unfloored top 10, removed by the floor; ΔMRR vs no floor). The rest run "
        f"against the Asia-only DB ({asia_articles:,} articles): {len(covered)} short in-region "
        f"topics that the corpus covers (answered ↑), {len(off_texts):,} distractor headlines "
        "(empty ↑; most are off-region, a few are world news that touches Asia), and "
        f"{len(UNCOVERED_TOPICS)} in-region topics the corpus never mentions "
        f"({', '.join(UNCOVERED_TOPICS)}) plus the {len(HAND_QUERIES)} hand-written off-region "
        "queries (nothing ↑). Default in bold. Computed by applying search.py's floor rule to "
        "the unfloored lists; at the default floors that matches `Searcher.rank` on "
        f"{checked - mismatches:,}/{checked:,} queries.",
        "",
    ]
    out.append(
        common.table(
            [
                "floor",
                "keyword_floor",
                "headline target lost ↓",
                "headline ΔMRR@10",
                "topics answered ↑",
                "distractors empty ↑",
                "uncovered + hand-written: nothing ↑",
            ],
            floor_rows,
        )
    )
    out += [
        "",
        f"Rule: the most distractors emptied with ≤ {MAX_TARGET_LOST:.0%} of headline targets "
        f"lost and ≥ {MIN_TOPICS_ANSWERED:.0%} of covered topics answered → **floor={rec_f:.2f}, "
        f"keyword_floor={rec_kf:.2f}** (covered topics left unanswered: "
        f"{', '.join(unanswered) or 'none'}). Nearly every candidate is also a keyword match "
        "(the FTS query ORs the words), so keyword_floor, not floor, decides most answers.",
        "",
        "Out-of-corpus queries (Asia-only DB): `ask` with the default floors, and the number "
        "of stories that the recommended floors would keep:",
        "",
    ]
    out.append(
        common.table(
            [
                "query",
                "stories (default)",
                f"stories ({rec_f:.2f}/{rec_kf:.2f})",
                "top similarity",
                "top story (default)",
            ],
            hand_rows,
        )
    )
    out += common.footer(load_before, started)
    return "\n".join(out)


def _reasons(report: dict[str, Any]) -> str:
    reasons = sorted({r for _, r in report.get("rejected", [])})
    return "; ".join(reasons) or "none"


def _cut(text: str, n: int = 70) -> str:
    text = text.replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


if __name__ == "__main__":
    common.cli(main)
