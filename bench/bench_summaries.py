"""Benchmark knowledge.text.summarise against lead baselines on the BBC News Summary corpus.

Run: .venv/bin/python bench/bench_summaries.py
Prints a markdown table; `main()` returns the same table for a runner to collect.

Systems, all scored with ROUGE-1/2/L F1 (rouge_score, stemmer on) against the reference `summary`:
- Lead-3: the first three of the dataset's `article_sentences`, no length cap (the usual baseline).
- Lead-k ≤600: as many leading `article_sentences` as fit 600 chars (at most 4): our budget.
- summarise ≤600: knowledge.text.summarise(text, title), max 4 sentences / 600 chars.
Sentence precision: share of chosen sentences in the reference set (`summary_sentence_ids`),
matched to `article_sentences` by content_hash; "matched" is the share of chosen sentences found
there at all (our splitter differs from the dataset's on a few sentences). "lead incl." is the
share of summaries that contain the article's first sentence (the reference sets: 74%).
The corpus is split per category by article number: the first half of each category's ids is where
the summariser's weights were tuned ("tune"), the second half is held out ("test").
"""

from __future__ import annotations

import gzip
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rouge_score import rouge_scorer  # noqa: E402

import knowledge.text as text_module  # noqa: E402
from knowledge.text import content_hash, split_sentences, summarise  # noqa: E402

DATA = Path("/work/shared/data/bbc_news_summary/bbc_news_summary.jsonl.gz")
SEED = ROOT / "seeds" / "000_747b853ffa16b7de.txt"
MAX_CHARS = 600
MAX_SENTENCES = 4

Row = dict[str, object]
System = Callable[[Row], list[str]]


def load_rows(path: Path = DATA) -> list[Row]:
    """All rows of the corpus, tagged with split "tune" (first half per category) or "test"."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        rows: list[Row] = [json.loads(line) for line in fh]
    per_category: dict[str, int] = {}
    for row in rows:
        category = str(row["category"])
        per_category[category] = per_category.get(category, 0) + 1
    for row in rows:
        number = int(str(row["id"]).rsplit("-", 1)[1])
        row["split"] = "tune" if number <= per_category[str(row["category"])] // 2 else "test"
    return rows


def _sentences(row: Row) -> list[str]:
    return [str(s) for s in row["article_sentences"]]  # type: ignore[attr-defined]


def lead3(row: Row) -> list[str]:
    """The first three sentences of the article, uncapped."""
    return _sentences(row)[:3]


def lead_budget(row: Row) -> list[str]:
    """Leading sentences while they fit MAX_CHARS (joined with spaces), at most MAX_SENTENCES."""
    chosen: list[str] = []
    used = -1
    for sentence in _sentences(row)[:MAX_SENTENCES]:
        if used + 1 + len(sentence) > MAX_CHARS:
            break
        chosen.append(sentence)
        used += 1 + len(sentence)
    return chosen or [_sentences(row)[0][:MAX_CHARS]]


def ours(row: Row) -> list[str]:
    """knowledge.text.summarise at the same budget, split back into its sentences."""
    summary = summarise(str(row["text"]), str(row["title"]), MAX_SENTENCES, MAX_CHARS)
    return split_sentences(summary)


# Ablations on the held-out half: one scoring term switched off at a time.
ABLATIONS: list[tuple[str, dict[str, float]]] = [
    ("ablation: no position prior", {"POSITION_WEIGHT": 0.0}),
    ("ablation: no title term", {"TITLE_WEIGHT": 0.0}),
    ("ablation: no centrality (position + title)", {"CENTRALITY_WEIGHT": 0.0}),
    ("ablation: no quote filter", {"QUOTE_SHARE_LIMIT": 1.01}),
]


@contextmanager
def patched(settings: dict[str, float]) -> Iterator[None]:
    """Temporarily override module-level weights of knowledge.text."""
    saved = {name: getattr(text_module, name) for name in settings}
    try:
        for name, value in settings.items():
            setattr(text_module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(text_module, name, value)


@dataclass
class Scores:
    """Mean scores of one system on one split."""

    rouge1: float
    rouge2: float
    rougel: float
    precision: float
    matched: float
    sentences: float
    chars: float
    lead: float


def evaluate(rows: Iterable[Row], system: System) -> Scores:
    """Score `system` on `rows`."""
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    r1, r2, rl, precision, matched, n_sentences, n_chars, lead = [], [], [], [], [], [], [], []
    for row in rows:
        chosen = system(row)
        summary = " ".join(chosen)
        score = scorer.score(str(row["summary"]), summary)
        r1.append(score["rouge1"].fmeasure)
        r2.append(score["rouge2"].fmeasure)
        rl.append(score["rougeL"].fmeasure)
        index = {content_hash(s): i for i, s in enumerate(_sentences(row))}
        reference = set(row["summary_sentence_ids"])  # type: ignore[call-overload]
        ids = [index.get(content_hash(s)) for s in chosen]
        matched.append(sum(i is not None for i in ids) / max(len(chosen), 1))
        precision.append(sum(i in reference for i in ids if i is not None) / max(len(chosen), 1))
        n_sentences.append(len(chosen))
        n_chars.append(len(summary))
        lead.append(float(0 in ids))
    mean = statistics.fmean
    return Scores(
        mean(r1), mean(r2), mean(rl), mean(precision), mean(matched), mean(n_sentences),
        mean(n_chars), mean(lead),
    )  # fmt: skip


def timings(rows: list[Row]) -> tuple[float, float, float]:
    """Mean and p95 ms per summary over `rows`; median ms for the seed repeated to ≥2,000 words."""
    per_row: list[float] = []
    for row in rows:
        text, title = str(row["text"]), str(row["title"])
        start = time.perf_counter()
        summarise(text, title)
        per_row.append((time.perf_counter() - start) * 1000)
    title, body = SEED.read_text(encoding="utf-8").split("\n", 1)
    long_text = body
    while len(long_text.split()) < 2000:
        long_text += "\n\n" + body
    runs = []
    for _ in range(50):
        start = time.perf_counter()
        summarise(long_text, title)
        runs.append((time.perf_counter() - start) * 1000)
    per_row.sort()
    p95 = per_row[min(len(per_row) - 1, round(0.95 * len(per_row)))]
    return statistics.fmean(per_row), p95, statistics.median(runs)


def main() -> str:
    """Run the benchmark and return the markdown table."""
    rows = load_rows()
    systems: list[tuple[str, System]] = [
        ("Lead-3 (uncapped)", lead3),
        (f"Lead-k ≤{MAX_CHARS} chars, ≤{MAX_SENTENCES}", lead_budget),
        (f"summarise ≤{MAX_CHARS} chars, ≤{MAX_SENTENCES}", ours),
    ]
    splits = [
        ("tune", [r for r in rows if r["split"] == "tune"]),
        ("test", [r for r in rows if r["split"] == "test"]),
        ("all", rows),
    ]
    lines = [
        "| split (n) | system | ROUGE-1 F1 | ROUGE-2 F1 | ROUGE-L F1 | sent. precision "
        "| matched | lead incl. | sents | chars |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    runs: list[tuple[str, list[Row], str, System, dict[str, float]]] = [
        (split, split_rows, name, system, {})
        for split, split_rows in splits
        for name, system in systems
    ]
    runs += [("test", splits[1][1], name, ours, settings) for name, settings in ABLATIONS]
    for split, split_rows, name, system, settings in runs:
        with patched(settings):
            s = evaluate(split_rows, system)
        lines.append(
            f"| {split} ({len(split_rows)}) | {name} | {s.rouge1:.4f} | {s.rouge2:.4f} "
            f"| {s.rougel:.4f} | {s.precision:.3f} | {s.matched:.3f} | {s.lead:.3f} "
            f"| {s.sentences:.2f} "
            f"| {s.chars:.0f} |"
        )
    mean_ms, p95_ms, long_ms = timings(rows)
    lines += [
        "",
        "| timing of summarise | ms |",
        "|---|---:|",
        f"| mean per BBC article (n={len(rows)}) | {mean_ms:.2f} |",
        f"| p95 per BBC article | {p95_ms:.2f} |",
        f"| seed article repeated to ≥2,000 words (median of 50) | {long_ms:.2f} |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
