"""Article extraction (knowledge/sources/pages.py) against two ground-truth sets, beside the
published baselines, plus how many of the shared feed files bring items.

Run: .venv/bin/python bench/bench_extraction.py [--quick]

Sets:
- zyte: ../shared/data/pages (181 pages, human-annotated articleBody). Baselines: the outputs of
  trafilatura 2.0.0, readability-lxml, Readability.js, newspaper and html-text that ship in
  ../shared/data/html_extraction_groundtruth/zyte_benchmark_baselines, scored here with the
  same code as ours.
- fundus: ../shared/data/html_extraction_groundtruth/fundus_parser_testdata (84 English news
  pages, 2023-2026; fundus's expected body). No published outputs: the whole page as plain text
  (our html_to_text of <body>) is the floor, like html-text on zyte.

Metrics, per page then averaged over pages, F1 = harmonic mean of the averages:
- word: multisets of `\\w+` tokens (word-level precision and recall);
- shingle: multisets of word 4-grams, the article-extraction-benchmark's metric (its evaluate.py:
  per-page tp/fp/fn normalised, a page with nothing on either side scores 1).
Pages are split by sorted id: the first half ("dev") chose the extractor's options, the second
("test") is reported; "all" is on every page, the scale the published numbers use.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import common  # noqa: E402

from knowledge.errors import NotAFeedError  # noqa: E402
from knowledge.sources.feeds import parse_feed  # noqa: E402
from knowledge.sources.html_text import html_to_text  # noqa: E402
from knowledge.sources.pages import extract_article  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PAGES = SHARED / "pages"
GROUNDTRUTH = SHARED / "html_extraction_groundtruth"
FUNDUS = GROUNDTRUTH / "fundus_parser_testdata"
BASELINES = GROUNDTRUTH / "zyte_benchmark_baselines"
BASELINE_NAMES = ("trafilatura", "readability_js", "readability", "newspaper", "html-text")
# Options tried on the dev halves; the production default is the first.
VARIANTS: dict[str, dict[str, bool]] = {
    "ours (default)": {},
    "ours, favor_precision": {"favor_precision": True},
    "ours, favor_recall": {"favor_recall": True},
}
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Page:
    """One page with its expected text."""

    id: str
    url: str
    html_file: Path
    expected: str
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD


def _grams(text: str, n: int) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN.findall(text or "")
    if n == 1:
        return Counter((t,) for t in tokens)
    return Counter(tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens)


def tp_fp_fn(expected: str, predicted: str, n: int) -> tuple[float, float, float]:
    """Matched, extra and missing n-grams, normalised to sum to 1 (each page weighs the same)."""
    truth, pred = _grams(expected, n), _grams(predicted, n)
    tp = float(sum((truth & pred).values()))
    fp = float(sum((pred - truth).values()))
    fn = float(sum((truth - pred).values()))
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def prf(triples: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
    """Mean precision and recall over pages, F1 of the means (the benchmark's aggregation)."""

    def precision(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def recall(tp: float, fp: float, fn: float) -> float:
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    p_values = [precision(*t) for t in triples if t[0] + t[1] > 0]
    r_values = [recall(*t) for t in triples if t[0] + t[2] > 0]
    p = statistics.mean(p_values) if p_values else 0.0
    r = statistics.mean(r_values) if r_values else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def zyte_pages() -> list[Page]:
    """The 181 zyte benchmark pages, sorted by id."""
    rows = [json.loads(line) for line in (PAGES / "ground_truth.jsonl").open(encoding="utf-8")]
    return sorted(
        (Page(r["id"], r["url"], PAGES / r["html_file"], r["articleBody"]) for r in rows),
        key=lambda p: p.id,
    )


def fundus_pages() -> list[Page]:
    """The 84 fundus pages, sorted by id."""
    with gzip.open(FUNDUS / "expected.jsonl.gz", "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return sorted(
        (
            Page(
                r["id"],
                r["url"],
                FUNDUS / r["html_file"],
                r["expected_text"],
                title=r.get("title"),
                date=(r.get("publishing_date") or "")[:10] or None,
            )
            for r in rows
        ),
        key=lambda p: p.id,
    )


def _html(page: Page) -> bytes:
    with gzip.open(page.html_file, "rb") as handle:
        return handle.read()


def whole_page_text(html: bytes) -> str:
    """Every visible word of the page: the floor any extractor must beat."""
    match = re.search(rb"<body\b.*", html, re.IGNORECASE | re.DOTALL)
    return html_to_text((match.group(0) if match else html).decode("utf-8", "replace"))


@dataclass
class Run:
    """One system's outputs on one set."""

    texts: dict[str, str]
    seconds: list[float]
    titles: dict[str, str]
    dates: dict[str, str | None]


def run_ours(pages: Sequence[Page], options: dict[str, bool]) -> Run:
    """extract_article on every page, timed."""
    run = Run({}, [], {}, {})
    for page in pages:
        html = _html(page)
        started = time.perf_counter()
        article = extract_article(html, page.url, **options)
        run.seconds.append(time.perf_counter() - started)
        run.texts[page.id] = article.text if article else ""
        run.titles[page.id] = article.title if article else ""
        run.dates[page.id] = (
            article.published.date().isoformat() if article and article.published else None
        )
    return run


def run_function(pages: Sequence[Page], extract: Callable[[bytes], str]) -> Run:
    """Any bytes -> text function on every page, timed."""
    run = Run({}, [], {}, {})
    for page in pages:
        html = _html(page)
        started = time.perf_counter()
        run.texts[page.id] = extract(html)
        run.seconds.append(time.perf_counter() - started)
    return run


def baseline_texts(name: str) -> dict[str, str]:
    """A shipped baseline's articleBody per page id."""
    with gzip.open(BASELINES / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    output = data.get("output", data) if isinstance(data, dict) else {}
    return {key: (value or {}).get("articleBody") or "" for key, value in output.items()}


def baseline_version(name: str) -> str:
    """The version a shipped baseline recorded, if any."""
    with gzip.open(BASELINES / f"{name}.json.gz", "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    version = data.get("version") if isinstance(data, dict) and "output" in data else None
    return f" {version}" if version else ""


def score(pages: Sequence[Page], texts: dict[str, str]) -> list[float]:
    """word P, R, F1 then shingle P, R, F1."""
    words = prf([tp_fp_fn(p.expected, texts.get(p.id, ""), 1) for p in pages])
    shingles = prf([tp_fp_fn(p.expected, texts.get(p.id, ""), 4) for p in pages])
    return [*words, *shingles]


def _row(name: str, half: str, pages: Sequence[Page], texts: dict[str, str], ms: str) -> list[str]:
    values = score(pages, texts)
    return [name, half, str(len(pages)), *(f"{v:.3f}" for v in values), ms]


def _halves(pages: Sequence[Page]) -> dict[str, Sequence[Page]]:
    middle = len(pages) // 2
    return {"dev": pages[:middle], "test": pages[middle:], "all": pages}


def feed_coverage() -> list[str]:
    """How many shared feed files parse, refuse, and bring items (parse_feed on the bytes)."""
    rows = json.loads((SHARED / "feeds" / "index.json").read_text(encoding="utf-8"))
    files = [SHARED / "feeds" / row["file"] for row in rows]
    manifest = (SHARED / "feeds_netnewswire" / "manifest.jsonl").read_text(encoding="utf-8")
    files += [
        SHARED / "feeds_netnewswire" / json.loads(line)["file"]
        for line in manifest.split("\n")
        if line
    ]
    with_items = refused = empty = items = skipped = 0
    reasons: Counter[str] = Counter()
    started = time.perf_counter()
    for file in files:
        try:
            parsed = parse_feed(file.read_bytes(), "http://127.0.0.1/feed")
        except NotAFeedError as exc:
            refused += 1
            reasons[str(exc).split("(")[0].strip()[:60]] += 1
            continue
        items += len(parsed.items)
        skipped += parsed.skipped
        if parsed.items:
            with_items += 1
        else:
            empty += 1
    seconds = time.perf_counter() - started
    lines = [
        "### Feed files (../shared/data/feeds + feeds_netnewswire)",
        "",
        common.table(
            [
                "files",
                "bring items",
                "parse, no usable entries",
                "refused",
                "items",
                "entries skipped (no title, text or link)",
                "ms per file",
            ],
            [
                [
                    len(files),
                    with_items,
                    empty,
                    refused,
                    items,
                    skipped,
                    f"{1000 * seconds / len(files):.1f}",
                ]
            ],
        ),
        "",
        "Refusal reasons: "
        + "; ".join(f"{reason} ×{n}" for reason, n in reasons.most_common())
        + ".",
        "",
    ]
    return lines


def _big_feed(count: int) -> bytes:
    words = "ministers from the region met in Jakarta and agreed on maritime security " * 30
    items = "".join(
        f"<item><title>Story {n} on the South China Sea</title>"
        f"<link>https://news.example.com/{n}</link><guid>g{n}</guid>"
        f"<pubDate>Mon, 30 Nov 2026 06:{n % 60:02d}:00 GMT</pubDate>"
        f"<description><![CDATA[<p>{words}</p><p>Paragraph two of story {n}.</p>]]></description>"
        "</item>"
        for n in range(count)
    )
    head = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Big</title>'
    return f"{head}{items}</channel></rss>".encode()


def feed_throughput(quick: bool) -> list[str]:
    """Fetch + parse of a 1,000-item feed from a loopback server (no store, no embedding)."""
    import asyncio

    from knowledge.sources.fetch import Fetcher, FetchLimits
    from knowledge.sources.probe import probe
    from tests.support.feedserver import FeedServer, Reply

    count = 200 if quick else 1000
    body = _big_feed(count)
    rows = []
    with FeedServer() as server:
        server.route(
            "/plain.xml", Reply(body=body, headers={"Content-Type": "application/rss+xml"})
        )
        server.route(
            "/gzip.xml",
            Reply(
                body=gzip.compress(body),
                headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
            ),
        )
        limits = FetchLimits(allowed_addresses=frozenset({("127.0.0.1", server.port)}))

        async def once(path: str) -> tuple[float, int]:
            async with Fetcher(limits) as fetcher:
                started = time.perf_counter()
                found = await probe(fetcher, server.url(path), full_text=False)
                return time.perf_counter() - started, len(found.items)

        for path, label in (("/plain.xml", "plain"), ("/gzip.xml", "gzip")):
            runs = [asyncio.run(once(path)) for _ in range(3 if quick else 5)]
            seconds = statistics.median(r[0] for r in runs)
            size = len(body) if label == "plain" else len(gzip.compress(body))
            rows.append(
                [
                    label,
                    f"{size / 1e6:.2f} MB",
                    runs[0][1],
                    f"{1000 * seconds:.0f}",
                    f"{runs[0][1] / seconds:,.0f}",
                ]
            )
    return [
        f"### A {count:,}-item feed over loopback (fetch + parse, no store)",
        "",
        common.table(["body", "on the wire", "items", "ms (median)", "items/s"], rows),
        "",
    ]


def main(quick: bool = False) -> str:
    """The markdown section."""
    if not (PAGES / "ground_truth.jsonl").exists() or not (FUNDUS / "expected.jsonl.gz").exists():
        return "## Extraction (bench/bench_extraction.py)\n\nskipped: ../shared/data is not here\n"
    load_before = common.load_average()
    started = time.perf_counter()
    variants = dict(list(VARIANTS.items())[:1]) if quick else VARIANTS
    sets = {"zyte": zyte_pages(), "fundus": fundus_pages()}
    if quick:
        sets = {name: pages[:20] + pages[-20:] for name, pages in sets.items()}
    header = [
        "system",
        "half",
        "pages",
        "word P",
        "word R",
        "word F1",
        "shingle P",
        "shingle R",
        "shingle F1",
        "ms/page (median)",
    ]
    lines = [
        "## Extraction (bench/bench_extraction.py)",
        "",
        "Article text from saved HTML pages: knowledge/sources/pages.py (trafilatura "
        "with our options and cleaning) against each set's ground truth. word = bag of `\\w+` "
        "tokens; shingle = word 4-grams, the zyte benchmark's own metric. dev = first half of "
        "the pages by id (options chosen there), test = second half (reported), all = every "
        "page (the published numbers' scale).",
        "",
    ]
    dev_f1: dict[str, list[float]] = {name: [] for name in variants}
    for set_name, pages in sets.items():
        halves = _halves(pages)
        rows: list[list[str]] = []
        extra: list[str] = []
        for name, options in variants.items():
            common.log(f"bench_extraction: {set_name} {name}")
            run = run_ours(pages, options)
            ms = f"{1000 * statistics.median(run.seconds):.0f}"
            for half in ("dev", "test", "all"):
                rows.append(_row(name, half, halves[half], run.texts, ms))
            dev_f1[name].append(score(halves["dev"], run.texts)[5])
            if set_name == "fundus":
                parts = []
                for half in ("dev", "test"):
                    titled = [p for p in halves[half] if p.title]
                    dated = [p for p in halves[half] if p.date]
                    title_ok = sum(
                        " ".join(run.titles[p.id].split()) == " ".join((p.title or "").split())
                        for p in titled
                    )
                    date_ok = sum(run.dates[p.id] == p.date for p in dated)
                    parts.append(
                        f"{half}: title exact {title_ok}/{len(titled)}, "
                        f"publishing day {date_ok}/{len(dated)}"
                    )
                extra.append(f"- {name}: " + "; ".join(parts) + ".")
        whole = run_function(pages, whole_page_text)
        ms = f"{1000 * statistics.median(whole.seconds):.0f}"
        for half in ("test", "all"):
            rows.append(_row("whole page as text (floor)", half, halves[half], whole.texts, ms))
        if set_name == "zyte":
            for baseline in BASELINE_NAMES:
                texts = baseline_texts(baseline)
                label = f"published: {baseline}{baseline_version(baseline)}"
                for half in ("test", "all"):
                    rows.append(_row(label, half, halves[half], texts, "–"))
        title = (
            "zyte article-extraction-benchmark"
            if set_name == "zyte"
            else "fundus parser test data"
        )
        lines += [f"### {title} ({len(pages)} pages)", "", common.table(header, rows), ""]
        lines += extra + ([""] if extra else [])
    best = max(dev_f1, key=lambda name: statistics.mean(dev_f1[name]))
    lines.append(
        "Chosen on the dev halves (mean shingle F1 over both sets): "
        + ", ".join(f"{name} {statistics.mean(v):.3f}" for name, v in dev_f1.items())
        + f" → **{best}**.",
    )
    lines.append("")
    lines += feed_coverage()
    lines += feed_throughput(quick)
    lines += common.footer(load_before, started)
    return "\n".join(lines)


if __name__ == "__main__":
    common.cli(main)
