"""The region classifier on the TEST half of the shared corpus (sha256(str(id)) hex 8-f), beside
the query-based sections it replaced (each section's query through the relevance decision).

- per section: precision and recall against the corpus's topic labels mapped to sections;
- the regional decision: non-Asia items (distractors) and sport/entertainment items let
  through, regional developments kept;
- speed: classification per article beyond the embedding (features + both decisions), in a
  batch and one at a time;
- a hand-checked sample of disagreements with the corpus labels (the labels are a keyword
  filter), so the precision and recall figures can be read against label noise.

Run: .venv/bin/python bench/run_all.py --only regions
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import common
import numpy as np
import regions_corpus as rc
import train_regions as tr

PRECISION_GOAL = 0.97
RECALL_GOAL = 0.95
NON_ASIA_GOAL = 0.02
SPORT_GOAL = 0.03
SPEED_GOAL_MS = 1.0


def _pr(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, int]:
    tp = int((pred & truth).sum())
    return tp / max(int(pred.sum()), 1), tp / max(int(truth.sum()), 1), int(truth.sum())


def query_based(items: list[rc.Item], vectors: np.ndarray) -> dict[str, set[int]]:
    """The sections as they were: each section query (settings.topics) through the search's
    relevance decision over exactly these stories. Section title -> row numbers."""
    from knowledge.embedder import to_blob
    from knowledge.service import BriefService
    from knowledge.store import NewArticle, Store, utcnow
    from knowledge.text import content_hash

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test-half.db"
        store = Store(path)
        now = utcnow()
        ids = store.articles.insert(
            [
                NewArticle(
                    url=None,
                    title=i.title,
                    source=i.source or "unknown",
                    published=None,
                    fetched=now,
                    text=i.text,
                    summary=i.summary,
                    content_hash=content_hash(f"{i.title}\n{i.text}\n{i.id}"),
                    embedding=to_blob(v),
                )
                for i, v in zip(items, vectors, strict=True)
            ]
        )
        store.close()
        row_of = {article_id: row for row, article_id in enumerate(ids) if article_id}
        service = BriefService(common.make_settings(path), embedder=common.embedder())
        try:
            service.searcher.sync()
            out = {}
            for title, query in service.settings.topics.items():
                found = service.searcher.relevant(query, list(row_of))
                out[title] = {row_of[a] for a in found}
        finally:
            service.close()
    return out


def speed(model: object, items: list[rc.Item], vectors: np.ndarray) -> tuple[float, float]:
    """(ms per article in batches of 256, ms per article one at a time)."""
    from knowledge.regions import RegionModel

    assert isinstance(model, RegionModel)
    sample = items[:1000]
    vecs = vectors[:1000]
    titles = [i.title for i in sample]
    texts = [i.text for i in sample]
    started = time.perf_counter()
    for start in range(0, len(sample), 256):
        model.classify(
            titles[start : start + 256], texts[start : start + 256], vecs[start : start + 256]
        )
    batch = (time.perf_counter() - started) * 1000 / len(sample)
    one = []
    for n in range(300):
        t0 = time.perf_counter()
        model.classify([titles[n]], [texts[n]], vecs[n : n + 1])
        one.append((time.perf_counter() - t0) * 1000)
    return batch, common.percentile(one, 50)


def main(quick: bool = False) -> str:
    """The section for RESULTS.md."""
    from knowledge.regions import shipped_model, taxonomy

    load_before = common.load_average()
    started = time.perf_counter()
    everything, all_vectors = rc.load()
    keep = [n for n, i in enumerate(everything) if i.half == "test"]
    items = [everything[n] for n in keep]
    vectors = all_vectors[keep]
    model = shipped_model()
    tax = taxonomy()
    labels = model.classify([i.title for i in items], [i.text for i in items], vectors)
    truth = tr.section_labels(items).astype(bool)
    old = query_based(items, vectors)

    rows = []
    all_met = True
    for s, section in enumerate(tax.sections):
        pred = np.array([section.key in lab.sections for lab in labels])
        p, r, n = _pr(pred, truth[:, s])
        old_rows = old.get(section.title)
        if old_rows is None:
            old_cell = "– (no query)"
        else:
            old_pred = np.zeros(len(items), dtype=bool)
            old_pred[list(old_rows)] = True
            op, orr, _ = _pr(old_pred, truth[:, s])
            old_cell = f"{op:.3f} / {orr:.3f}"
        met = p >= PRECISION_GOAL and r >= RECALL_GOAL
        all_met &= met
        rows.append([section.title, n, f"{p:.3f}", f"{r:.3f}", old_cell, "yes" if met else "no"])
    # micro average over every section
    pred_all = np.array([[k in lab.sections for k in tax.keys] for lab in labels])
    mp, mr, _ = _pr(pred_all.ravel(), truth.ravel())

    for_brief = np.array([lab.for_brief for lab in labels])
    non_asia = np.array([not i.asia for i in items])
    sport_cat = np.array([i.asia and i.relevance != "core" and i.sport_or_showbiz for i in items])
    sport_any = np.array([tr.off_brief_sport(i) for i in items])
    core = np.array([i.relevance == "core" for i in items])
    regional = np.array([tr.regional_label(i) == 1 for i in items])
    through_non_asia = for_brief[non_asia].mean()
    through_sport = for_brief[sport_any].mean()
    through_sport_cat = for_brief[sport_cat].mean() if sport_cat.any() else float("nan")
    # the old decision: a story went into digests when it was in any query-based section
    old_in = np.zeros(len(items), dtype=bool)
    for found in old.values():
        old_in[list(found)] = True

    batch_ms, one_ms = speed(model, items, vectors)

    common.target(
        "regions",
        f"per-section precision ≥ {PRECISION_GOAL} and recall ≥ {RECALL_GOAL} (test half)",
        f"micro P {mp:.3f} R {mr:.3f}; {sum(r[-1] == 'yes' for r in rows)}/{len(rows)} sections",
        all_met,
    )
    common.target(
        "regions",
        f"non-Asia let through ≤ {NON_ASIA_GOAL:.0%}",
        f"{through_non_asia:.1%} of {int(non_asia.sum())}",
        bool(through_non_asia <= NON_ASIA_GOAL),
    )
    common.target(
        "regions",
        f"sport/entertainment let through ≤ {SPORT_GOAL:.0%}",
        f"{through_sport:.1%} of {int(sport_any.sum())}",
        bool(through_sport <= SPORT_GOAL),
    )
    common.target(
        "regions",
        f"classification ≤ {SPEED_GOAL_MS} ms/article beyond the embedding",
        f"{batch_ms:.3f} ms batched, {one_ms:.3f} ms alone (p50)",
        bool(max(batch_ms, one_ms) <= SPEED_GOAL_MS),
    )

    # disagreements with the corpus labels, a seeded sample to read by hand
    rng = random.Random(5)
    wrong = [
        (n, s)
        for n in range(len(items))
        for s, key in enumerate(tax.keys)
        if (key in labels[n].sections) != truth[n, s]
    ]
    sample = rng.sample(wrong, min(12, len(wrong)))
    spot = [
        [
            items[n].title[:90].replace("|", "/"),
            tax.sections[s].title,
            "model yes, label no" if truth[n, s] == 0 else "label yes, model no",
        ]
        for n, s in sample
    ]

    out = [
        "## Region classifier (bench_regions.py)",
        "",
        f"Test half of ../shared/data/news_asia_pacific: {len(items):,} items "
        f"({int((~non_asia).sum()):,} Asia-Pacific, {int(non_asia.sum()):,} non-Asia "
        f"distractors); the model ({model.signature}) was fitted and its thresholds chosen on "
        "the dev half only (bench/train_regions.py). Truth: the corpus `topics` labels mapped "
        "to sections (knowledge/regions.toml), a keyword filter (see the spot check below). "
        "Beside it, the query-based sections it replaced: each section's query "
        "(config/default.toml [topics]) through the search's relevance decision over exactly "
        "these items.",
        "",
        common.table(
            ["section", "labelled items", "precision", "recall", "query-based P / R", "met"],
            rows,
        ),
        "",
        f"Micro average over sections: precision {mp:.3f}, recall {mr:.3f}.",
        "",
        "Regional development vs not for a brief:",
        "",
        common.table(
            ["items", "n", "let through (classifier)", "in a query-based section (before)"],
            [
                [
                    "non-Asia (distractors)",
                    int(non_asia.sum()),
                    f"{through_non_asia:.1%}",
                    f"{old_in[non_asia].mean():.1%}",
                ],
                [
                    "sport/entertainment (category or words)",
                    int(sport_any.sum()),
                    f"{through_sport:.1%}",
                    f"{old_in[sport_any].mean():.1%}",
                ],
                [
                    "sport/entertainment (category only)",
                    int(sport_cat.sum()),
                    f"{through_sport_cat:.1%}",
                    f"{old_in[sport_cat].mean():.1%}",
                ],
                [
                    "`core` regional items",
                    int(core.sum()),
                    f"{for_brief[core].mean():.1%}",
                    f"{old_in[core].mean():.1%}",
                ],
                [
                    "all regional developments (training label)",
                    int(regional.sum()),
                    f"{for_brief[regional].mean():.1%}",
                    f"{old_in[regional].mean():.1%}",
                ],
            ],
        ),
        "",
        f"Speed beyond the embedding (features from title + lead, both decisions; "
        f"{len(items[:1000])} test items): {batch_ms:.3f} ms per article in batches of 256 "
        f"(ingest), {one_ms:.3f} ms for one article alone (p50 of 300).",
        "",
        f"A seeded sample of the {len(wrong):,} (item, section) disagreements with the corpus "
        "labels:",
        "",
        common.table(["title", "section", "disagreement"], spot),
    ]
    out += common.footer(load_before, started)
    return "\n".join(out)


if __name__ == "__main__":
    common.cli(main)
