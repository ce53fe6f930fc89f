"""What readers' filters cost: kinds of outlet from the shipped table, and mute words matched
against every story of the Asia corpus (title, summary, outlet), at 1, 10 and 50 mutes, plus a
worst case (50 mutes of 60 characters over a 10,000-character text). Pure: no model, no
database. The cost per story times a digest pool's size is what a chat with mutes adds to its
digest; answers filter only their own candidates.

Run: .venv/bin/python bench/run_all.py --only readers
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import common

from knowledge.chat_filter import ChatFilter, apply
from knowledge.models import Article
from knowledge.mutes import MuteMatcher, clean_mute, fold
from knowledge.provenance import load_table, with_kinds
from knowledge.settings import shipped

CACHED = (
    5_000  # stories: about a digest pool, within fold's cache (a title, summary and outlet each)
)
MUTES = (
    "cricket", "Trump", "Kim Jong Un", "election", "football", "celebrity", "Bollywood",
    "stock market", "earthquake", "K-pop", "Olympics", "COVID-19", "tennis", "weather",
    "royal family", "box office", "fashion", "golf", "Formula One", "bitcoin",
)  # fmt: skip


def _articles() -> list[Article]:
    rows = common.read_rows(common.ARTICLES)
    now = datetime.now(UTC)
    return [
        Article(
            id=i,
            url=r.get("url"),
            title=r.get("title") or "",
            source=r.get("source") or "",
            published=None,
            fetched=now,
            summary=(r.get("text") or "")[:600],
        )
        for i, r in enumerate(rows, start=1)
    ]


def _best_of(runs: int, work: object) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main(quick: bool = False) -> str:
    """The markdown section."""
    started, load = time.perf_counter(), common.load_average()
    articles = _articles()
    table = load_table(shipped("config") / "outlets.toml")
    kinds_s = _best_of(3, lambda: with_kinds(articles, table, {}))
    labelled = with_kinds(articles, table, {})
    known = sum(a.kind != "unknown" for a in labelled)
    rng = random.Random(7)
    vocabulary = sorted({w for a in articles[:2000] for w in a.title.split() if w.isalpha()})
    rows = []
    for count in (1, 10, 50):
        words = list(MUTES[:count]) + rng.sample(vocabulary, max(0, count - len(MUTES)))
        chosen = ChatFilter(MuteMatcher.of([clean_mute(w, 60) for w in words]))
        fold.cache_clear()
        cold = _best_of(1, lambda chosen=chosen: apply(chosen, labelled[:CACHED]))
        warm = _best_of(3, lambda chosen=chosen: apply(chosen, labelled[:CACHED]))
        hidden = apply(chosen, labelled).muted
        cold_us, warm_us = cold / CACHED * 1e6, warm / CACHED * 1e6
        rows.append(
            [
                count,
                f"{cold_us:.1f}",
                f"{warm_us:.1f}",
                f"{warm_us * 5000 / 1000:.1f}",
                f"{hidden:,} ({hidden / len(labelled):.1%})",
            ]
        )
    worst = MuteMatcher.of([clean_mute(f"w{n} " + "a" * 56, 60) for n in range(50)])
    text = ("a" * 57 + " ") * 172  # 10,000 characters that nearly match every mute
    worst_s = _best_of(5, lambda: worst.matches(text))
    lines = [
        "## Readers' filters: kinds of outlet and mute words",
        "",
        f"{len(articles):,} Asia-corpus articles (title, first 600 characters as the summary, "
        "outlet). Kinds from config/outlets.toml: "
        f"{known:,} known ({known / len(articles):.1%}), {kinds_s / len(articles) * 1e6:.1f} µs "
        "an article.",
        "",
        "µs per story: the first chat over the first "
        f"{CACHED:,} stories (texts folded: NFKC, case folding), then the next chats (the fold "
        "cached); ms per 5,000-story digest pool at the cached rate; stories hidden out of all "
        f"{len(labelled):,}.",
        "",
        common.table(
            [
                "mutes",
                "µs a story, first chat",
                "µs, next chats",
                "ms a 5,000-story pool",
                "hidden",
            ],
            rows,
        ),
        "",
        f"Worst case: 50 mutes of 60 characters against a 10,000-character text that nearly "
        f"matches each: {worst_s * 1e3:.2f} ms (a substring search: nothing to backtrack).",
    ]
    common.target(
        "readers",
        "no slow input: 50 mutes of 60 characters over 10,000 characters < 10 ms",
        f"{worst_s * 1e3:.2f} ms",
        worst_s < 0.010,
    )
    lines += common.footer(load, started)
    return "\n".join(lines)


if __name__ == "__main__":
    common.cli(main)
