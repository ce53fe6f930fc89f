"""Sources: polling throughput end to end, and the bot's answers while it ingests.

1. Throughput: 1,000 real BBC RSS items (headline + standfirst, ../shared/data/news_bbc_rss_2022)
   served as 10 RSS feeds of 100 items by a local HTTP server on 127.0.0.1, polled by
   BriefService.ingest_sources (fetch → parse → dedupe → summary → embedding → story linking →
   SQLite): items stored per second of wall time. Then the same poll again (every feed answers
   304) and once more without validators (every item is known by its guid).
2. Answers while ingesting: the real Application (bot.app.build_application) long-polling the
   Bot API stand-in (bot/standin/) in this process, over the DB from step 1. One query at a time,
   each after the previous reply; latency = the push of the update to the arrival of the bot's
   sendMessage. Idle first, then while another 1,000 items are polled, called in a thread as
   the bot's polling job calls it: by default that hands the poll to the ingest worker process
   (knowledge/sources/worker.py), as the bot does. Target: p95 while ingesting at most twice
   the idle p95.
3. Both measured twice, each over a fresh database: polling in the worker (the bot's default)
   and in a thread of the bot's process (BRIEF_INGEST_WORKER=false), for comparison.

Run: .venv/bin/python bench/bench_sources.py [--quick]
"""

from __future__ import annotations

import asyncio
import gzip
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import common

from bot.standin import BotAPIStandIn
from tests.support.pollserver import FeedServer, conditional, rss

BBC = common.ROOT.parent / "shared" / "data" / "news_bbc_rss_2022"
FEEDS = 10
QUERIES = (
    "Taiwan Strait",
    "North Korea missile",
    "South China Sea",
    "India China border",
    "Australia defence",
    "Japan election",
    "Philippines coast guard",
    "Pacific islands",
    "Sri Lanka crisis",
    "Pakistan floods",
    "Myanmar military",
    "Hong Kong protests",
    "Beijing Covid",
    "Indonesia G20",
    "Korean Peninsula talks",
)


def bbc_items(offset: int, count: int) -> list[dict[str, str]]:
    """Real BBC RSS items: the Asia-Pacific file, then the others."""
    out: list[dict[str, str]] = []
    seen = 0
    for name in ("asia_pacific.jsonl.gz", "other.jsonl.gz"):
        with gzip.open(BBC / name, "rt", encoding="utf-8") as handle:
            for line in handle:
                if seen >= offset:
                    r = json.loads(line)
                    out.append(
                        {
                            "title": r["title"],
                            "link": r["url"],
                            "guid": r["id"],
                            "description": r["text"],
                            "pubDate": _rfc822(r["published"]),
                        }
                    )
                    if len(out) == count:
                        return out
                seen += 1
    return out


def _rfc822(iso: str) -> str:
    from datetime import datetime
    from email.utils import format_datetime

    return format_datetime(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def serve(server: FeedServer, prefix: str, items: list[dict[str, str]]) -> list[str]:
    """Split the items into FEEDS feeds on the server; their URLs."""
    size = -(-len(items) // FEEDS)
    urls = []
    for n in range(FEEDS):
        path = f"/{prefix}{n}.xml"
        server.route(path, conditional(rss(items[n * size : (n + 1) * size], f"{prefix} {n}")))
        urls.append(server.url(path))
    return urls


async def ask(api: BotAPIStandIn, chat: int, text: str) -> float:
    """Push one message; milliseconds until the bot's reply arrives."""
    start = time.monotonic()
    api.push_message(text, user_id=chat)
    while True:
        for call in api.calls_to("sendMessage"):
            if call.params.get("chat_id") == chat:
                return 1000 * (call.at - start)
        await asyncio.sleep(0.002)


async def latencies(
    api: BotAPIStandIn, chats: list[int], until: asyncio.Future[Any] | None, count: int
) -> list[float]:
    """One query at a time: `count` of them, or until `until` is done (at least 10)."""
    out: list[float] = []
    while True:
        if until is None and len(out) >= count:
            return out
        if until is not None and until.done() and len(out) >= 10:
            return out
        chat = chats.pop()
        out.append(await ask(api, chat, QUERIES[len(out) % len(QUERIES)]))


async def bot_phase(
    service: Any, settings: Any, api: BotAPIStandIn, quick: bool
) -> dict[str, Any]:
    from telegram import Update

    from bot.app import build_application

    app = build_application(settings, service)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    chats = list(range(500_000, 510_000))
    try:
        await latencies(api, chats, None, 5)  # warm up
        idle = await latencies(api, chats, None, 20 if quick else 60)
        polling = asyncio.ensure_future(asyncio.to_thread(service.ingest_sources))
        busy = await latencies(api, chats, polling, 0)
        report = await polling
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    return {"idle": idle, "busy": busy, "stored": report.stored}


MODES = {
    "worker": "in the ingest worker process (the bot's default, BRIEF_INGEST_WORKER=true)",
    "thread": "in a thread of the bot's process (BRIEF_INGEST_WORKER=false)",
}


def measure(mode: str, offset: int, total: int, quick: bool) -> dict[str, Any]:
    """One polling mode over a fresh database: the throughput polls, then the bot's answers
    idle and while another `total` items are polled."""
    from knowledge.build import build_service

    first = bbc_items(offset, total)
    second = bbc_items(offset + total, total)
    model = common.embedder()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server, BotAPIStandIn() as api:
        settings = common.make_settings(
            Path(tmp) / "sources.db",
            allow_private_addresses=True,  # the feeds are on 127.0.0.1
            fetch_full_text=False,  # their links point at the real BBC
            telegram_token=api.token,
            telegram_api_url=api.base_url,
            rate_limits=False,
            poll=False,
            ingest_worker=mode == "worker",
        )
        # as run_bot builds it: polls go to the worker when the setting says so
        service = build_service(settings, embedder=model, poll_in_worker=settings.ingest_worker)
        started = 0.0
        if service.worker is not None:
            t = time.perf_counter()
            service.worker.start()  # it loads its model once, as the bot's did before
            started = time.perf_counter() - t
        for url in serve(server, "a", first):
            service.store.sources.add(url, "feed", url.rsplit("/", 1)[-1], None)
        common.log(f"sources ({mode}): polling {total} items in {FEEDS} feeds")
        t = time.perf_counter()
        report = service.ingest_sources()
        took = time.perf_counter() - t
        rows.append(
            ["first poll", total, report.stored, f"{took:.1f}", f"{report.stored / took:.0f}"]
        )
        t = time.perf_counter()
        again = service.ingest_sources()
        took_304 = time.perf_counter() - t
        statuses = {p.status for p in again.polls}
        rows.append(["again (304 Not Modified)", total, again.stored, f"{took_304:.2f}", "–"])
        with service.store.db.write() as conn:
            conn.execute("UPDATE sources SET etag = NULL, last_modified = NULL")
        t = time.perf_counter()
        known = service.ingest_sources()
        took_known = time.perf_counter() - t
        rows.append(
            [
                "again without validators (guids known)",
                total,
                known.stored,
                f"{took_known:.2f}",
                "–",
            ]
        )
        assert statuses == {"not_modified"}, statuses

        for url in serve(server, "b", second):
            service.store.sources.add(url, "feed", url.rsplit("/", 1)[-1], None)
        service.warm_up()
        common.log(f"sources ({mode}): bot answers idle, then while polling another batch")
        bot = asyncio.run(bot_phase(service, settings, api, quick))
        service.close()
    idle_p95 = common.percentile(bot["idle"], 95)
    busy_p95 = common.percentile(bot["busy"], 95)
    return {
        "rows": rows,
        "items_per_s": report.stored / took,
        "started": started,
        "ratio": busy_p95 / idle_p95,
        **bot,
    }


def main(quick: bool = False) -> str:
    """The section for bench/RESULTS.md."""
    started, load_before = time.perf_counter(), common.load_average()
    total = 200 if quick else 1000
    defaults = common.make_settings(common.CACHE / "unused.db")
    default = "worker" if defaults.ingest_worker else "thread"
    results = {
        mode: measure(mode, n * 2 * total, total, quick)
        for n, mode in enumerate(sorted(MODES, key=lambda m: m != default))
    }
    bot = results[default]
    ratio, items_per_s = bot["ratio"], bot["items_per_s"]
    common.target("sources", "bot p95 while ingesting ≤ 2× idle", f"{ratio:.2f}×", ratio <= 2.0)
    common.target("sources", "polling throughput (items/s)", f"{items_per_s:.0f}/s", None)
    lines = [
        "## Sources: polling throughput and answers while ingesting",
        "",
        f"{total:,} real BBC RSS items (headline + standfirst) in {FEEDS} RSS feeds served on "
        "127.0.0.1, polled by `BriefService.ingest_sources` end to end (fetch, parse, dedupe, "
        "summary, embedding, story linking, SQLite); full-text fetching off. Each way of "
        "polling over a fresh database, "
        + "; ".join(f"**{m}**: {MODES[m]}" for m in results)
        + ".",
        "",
        common.table(
            ["polled", "poll", "items served", "stored", "seconds", "items/s"],
            [[mode, *row] for mode, r in results.items() for row in r["rows"]],
        ),
        "",
    ]
    if results.get("worker", {}).get("started"):
        lines += [
            f"The worker started (a fresh interpreter loading the model) in "
            f"{results['worker']['started']:.1f} s, before the first poll.",
            "",
        ]
    lines += [
        "The bot (real Application, Bot API stand-in in this process), one query at a time: "
        f"idle, then while {total:,} more items were polled and stored, called in a thread "
        "as the bot's polling job calls it.",
        "",
        common.table(
            ["polled", "", "answers", "p50 ms", "p95 ms", "max ms", "p95 / idle p95"],
            [
                [
                    mode,
                    name,
                    len(v),
                    f"{common.percentile(v, 50):.0f}",
                    f"{common.percentile(v, 95):.0f}",
                    f"{max(v):.0f}",
                    "" if name == "idle" else f"{r['ratio']:.2f}×",
                ]
                for mode, r in results.items()
                for name, v in (("idle", r["idle"]), ("while ingesting", r["busy"]))
            ],
        ),
        "",
        f"p95 while ingesting / idle p95 as the bot polls ({default}): **{ratio:.2f}×** "
        "(target ≤ 2×).",
    ]
    lines += common.footer(load_before, started)
    return "\n".join(lines)


if __name__ == "__main__":
    common.cli(main)
