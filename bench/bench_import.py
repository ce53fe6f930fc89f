"""Import throughput: the first 1,000 lines of articles.jsonl.gz (short leads) and the corpus's
full-text articles, into a fresh DB through BriefService.import_records with the real model;
then the same file again (all duplicates). The time in summarise and in the model is measured
separately on the same inputs; the rest (parsing, duplicate checks, SQLite + FTS5, the index)
is the difference.

Run: .venv/bin/python bench/bench_import.py [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

FIRST_LINES = 1000
QUICK_LINES = 200
REPEATS = 3
TARGET_PER_S = 20.0
BATCH = 256  # knowledge.service.IMPORT_BATCH: rows per transaction and per encode call
VARIANT_ENV = {"BENCH_MODEL_THREADS": "2"}  # torch's threads (BRIEF_MODEL_THREADS, default 1)


def _sets(quick: bool) -> list[tuple[str, list[dict[str, Any]], int | None]]:
    """(label, rows, size of the DB to import into or None for an empty one)."""
    rows = common.read_rows(common.ARTICLES)
    first = rows[: QUICK_LINES if quick else FIRST_LINES]
    full = [r for r in rows if r.get("text_type") == "full"][: 60 if quick else None]
    # the same leads again under new links, so they are new articles (most of them get linked
    # to their copies as near-duplicates): the dedupe scan over a big index is what this times
    fresh = [
        {**r, "url": f"https://bench.invalid/fresh/{i}", "text": f"{r.get('text') or ''} ."}
        for i, r in enumerate(first)
    ]
    big = 10_000 if quick else 100_000
    return [
        (f"first {len(first):,} lines (leads, median {_median_len(first)} chars)", first, None),
        (f"{len(full)} full-text articles (median {_median_len(full)} chars)", full, None),
        (f"the {len(first):,} leads, new URLs, into the {big // 1000}k DB", fresh, big),
    ]


def _median_len(rows: list[dict[str, Any]]) -> int:
    return int(common.median([len(r.get("text") or "") for r in rows]))


def measure(quick: bool, repeats: int, first_only: bool = False) -> dict[str, Any]:
    """In this process: import each input `repeats` times into a fresh DB, and time summarise
    and the model once on the same inputs."""
    from knowledge.build import build_service
    from knowledge.errors import ImportRecordError
    from knowledge.records import draft_from_record
    from knowledge.text import summarise

    model = common.embedder()
    settings = common.make_settings(common.CACHE / "unused.db")
    out: dict[str, Any] = {}
    for name, rows, into in _sets(quick)[: 1 if first_only else None]:
        records = common.numbered(rows)
        totals: list[float] = []
        again: list[float] = []
        report: Any = None
        rss_before = _max_rss_mb()
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as tmp:
                db = Path(tmp) / "brief.db"
                if into:
                    shutil.copyfile(common.scaled_db(into), db)
                service = build_service(common.make_settings(db), embedder=model)
                service.warm_up()
                t = time.perf_counter()
                report = service.import_records(records)
                totals.append(time.perf_counter() - t)
                t = time.perf_counter()
                second = service.import_records(records)
                again.append(time.perf_counter() - t)
                assert second.imported == 0, second
                service.close()
        drafts = []
        for row in rows:
            with contextlib.suppress(ImportRecordError):
                drafts.append(draft_from_record(row))
        t = time.perf_counter()
        summaries = [
            summarise(
                d.text,
                d.title,
                max_sentences=settings.summary_max_sentences,
                max_chars=settings.summary_max_chars,
            )
            or d.text[:300]
            for d in drafts
        ]
        summarise_s = time.perf_counter() - t
        texts = [f"{d.title}. {s}" for d, s in zip(drafts, summaries, strict=True)]
        t = time.perf_counter()
        for start in range(0, len(texts), BATCH):
            model.encode(texts[start : start + BATCH])
        embed_s = time.perf_counter() - t
        out[name] = {
            "lines": len(rows),
            "imported": report.imported,
            "linked": report.linked,
            "rejected": len(report.rejected),
            "total_s": totals,
            "again_s": again,
            "summarise_s": summarise_s,
            "embed_s": embed_s,
            "maxrss_before_mb": rss_before,
            "maxrss_after_mb": _max_rss_mb(),
        }
    return out


def _max_rss_mb() -> float:
    return common.proc_status_mb("VmHWM")  # see bench_search_latency._max_rss_mb


def run(
    quick: bool, repeats: int, env: dict[str, str] | None = None, first_only: bool = False
) -> dict[str, Any]:
    """measure() in a fresh process (with extra environment variables)."""
    label = " ".join(f"{k}={v}" for k, v in (env or {}).items()) or "default environment"
    common.log(f"import: measuring ({label})")
    command = [sys.executable, __file__, "--measure", "--repeats", str(repeats)]
    if quick:
        command.append("--quick")
    if first_only:
        command.append("--first-only")
    proc = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        raise RuntimeError(f"import measurement failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"env": label, "sets": result}


def main(quick: bool = False) -> str:
    """Run the benchmark; return its markdown section."""
    started = time.perf_counter()
    load_before = common.load_average()
    repeats = 1 if quick else REPEATS
    common.scaled_db(10_000 if quick else 100_000)  # build the cache outside the timings
    runs = [run(quick, repeats), run(quick, 1, VARIANT_ENV, first_only=True)]
    rows = []
    for r in runs:
        for name, m in r["sets"].items():
            total = common.median(m["total_s"])
            summ = m["summarise_s"]
            embed = m["embed_s"]
            rest = max(total - summ - embed, 0.0)
            rate = m["imported"] / total
            rows.append(
                [
                    name,
                    r["env"],
                    f"{m['imported']:,} (+{m['rejected']} rejected, {m['linked']} linked)",
                    f"{total:.1f} ({', '.join(f'{x:.1f}' for x in m['total_s'])})",
                    f"**{rate:.1f}**" if rate >= TARGET_PER_S else f"**{rate:.1f} (below)**",
                    f"{summ:.2f} ({summ / total:.0%})",
                    f"{embed:.1f} ({embed / total:.0%})",
                    f"{rest:.1f} ({rest / total:.0%})",
                    f"{common.median(m['again_s']):.2f}",
                    f"{m['maxrss_before_mb']:.0f} → {m['maxrss_after_mb']:.0f}",
                ]
            )
    for name, m in runs[0]["sets"].items():
        rate = m["imported"] / common.median(m["total_s"])
        common.target(
            "import",
            f"≥ {TARGET_PER_S:.0f} articles/s: {name}",
            f"{rate:.1f}/s",
            rate >= TARGET_PER_S,
        )
    big_name, big = list(runs[0]["sets"].items())[-1]
    common.target(
        "import",
        f"memory ≤ 1.5 GB: {big_name}",
        f"peak {big['maxrss_after_mb']:.0f} MiB",
        big["maxrss_after_mb"] <= 1536,
    )
    out = ["## Import throughput (bench/bench_import.py)", ""]
    out.append(
        "`BriefService.import_records` into a fresh DB with the real model (loaded beforehand), "
        f"median of {repeats} run(s) ({runs[1]['env']}: the leads only, 1 run), a fresh "
        "process per environment. summarise and "
        f"embed are timed on the same inputs outside the import (encode in batches of {BATCH}, "
        "as the service does); 'rest' = total − summarise − embed: parsing, duplicate checks, "
        f"SQLite + FTS5 triggers, index sync. The last input re-imports the leads under new "
        "URLs into a copy of the 100k-article DB of bench_search_latency (index loaded "
        "beforehand), where the near-duplicate check scans the whole index per batch; peak "
        "RSS is the process's VmHWM before and after each input. "
        f"Target ≥ {TARGET_PER_S:.0f} articles/s on 2 cores."
    )
    out.append("")
    out.append(
        common.table(
            [
                "input",
                "environment",
                "stored",
                "import s (runs)",
                "articles/s",
                "summarise s",
                "embed s",
                "rest s",
                "re-import s (all duplicates)",
                "peak RSS MiB before → after",
            ],
            rows,
        )
    )
    out += common.footer(load_before, started)
    return "\n".join(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--measure", action="store_true", help="(internal) print JSON")
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--first-only", action="store_true", help="(internal) leads only")
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.quick, args.repeats, args.first_only)))
    else:
        print(main(quick=args.quick))
