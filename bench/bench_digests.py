"""The digest fan-out end to end: 1,000 and 10,000 subscribed chats, one digest each, through
the Bot API stand-in, with the bot's real flood limits (bot/ratelimit.py: the broadcast lane at
Telegram's 30 messages/s; replies bound only by their own chat).

The stand-in runs in this process; the bot runs in a child process (this file with --serve), as
in bench_bot.py, so the stand-in's HTTP threads do not share the bot's GIL. The child is the
real Application (bot.app.build_application) with its real JobQueue: every chat is subscribed at
the same local time, and the child's clock (bot.schedule.Clock) is set so that this time comes
FIRE_IN_S seconds after its start-up, when APScheduler fires all the jobs.

Measured: wall time from the jobs' time to the last digest's arrival at the stand-in, against
the bound N / 30 s (target: within 10 %, 1,000 chats in at most 37 s); digests lost or doubled
(every chat must have exactly one); the bot's resident memory during the run; and, while the
1,000-chat fan-out runs, the latency of questions from other users (push → reply) against the
same questions with the bot idle (target: p95 at most twice the idle p95).

Run: .venv/bin/python bench/bench_digests.py [--quick]
(--quick: 300 chats only; the full run adds 10,000 chats, which take ~333 s at 30/s.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

from bot.standin import BotAPIStandIn, Call

ARTICLES = 300
FIRE_IN_S = 30.0  # start-up → the chats' time; the idle questions run meanwhile
QUESTION_EVERY_S = 0.5
IDLE_QUESTIONS = 30  # one every QUESTION_EVERY_S: 15 s
TARGET_SLACK = 1.10
TARGET_P95_FACTOR = 2.0
FIRST_CHAT = 1_000_000
AT = "07:00"  # every chat's local time (UTC)
MAX_STORIES = 3  # per digest: one message each (the rate bound counts messages)
DIGEST_HEAD = "<b>Indo-Pacific digest"


# --- the child: the bot ------------------------------------------------------------------------
async def serve(api_url: str, token: str, db: Path, fire_in: float) -> None:
    """Run the real Application against the stand-in until stdin closes; its clock reads
    `fire_in` seconds before the chats' time once it is up."""
    from telegram import Update

    import bot.app
    from bot.schedule import Clock, scheduler_of
    from knowledge.build import build_service

    settings = common.make_settings(
        db,
        telegram_token=token,
        telegram_api_url=api_url,
        webhook_url="",
        admin_ids=(),
        digest_max_stories=MAX_STORIES,  # (common.setup_env drops BRIEF_* variables)
    )
    service = build_service(settings)
    service.warm_up()
    app = bot.app.build_application(settings, service)
    scheduler = scheduler_of(app)
    now = datetime.now(UTC)
    at = datetime.strptime(AT, "%H:%M").time()
    due = datetime.combine(now.date(), at, tzinfo=UTC)
    if due <= now:  # the next AT: the bot's clock then runs less than a day ahead, so the
        due += timedelta(days=1)  # stories published now are still news to it
    scheduler.clock = Clock(due - timedelta(seconds=fire_in) - now)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    fire_at = time.monotonic() + (due - scheduler.clock.now()).total_seconds()
    print(f"ready {fire_at:.6f}", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "runs?" → the runs so far
    runs = scheduler.runs
    print(
        f"runs {len(runs)} " + " ".join(f"{r.sent},{r.failed},{r.skipped}" for r in runs),
        flush=True,
    )
    await asyncio.to_thread(sys.stdin.read)
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    service.close()


# --- the parent --------------------------------------------------------------------------------
def prepare_db(db: Path, chats: int) -> None:
    """A store with ARTICLES fresh stories (published now) and `chats` subscriptions."""
    from knowledge.build import build_service

    rows = common.read_rows(common.ARTICLES, ARTICLES)
    published = datetime.now(UTC).isoformat()
    for row in rows:
        row["published"] = published  # news of the day, so the digests have something
    settings = common.make_settings(db)
    service = build_service(settings, embedder=common.embedder())
    try:
        service.import_records(common.numbered(rows))
        for chat in range(FIRST_CHAT, FIRST_CHAT + chats):
            service.subscribe(chat, None, AT, "UTC")
    finally:
        service.close()


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Child:
    """The bot process."""

    def __init__(self, api: BotAPIStandIn, db: Path) -> None:
        self.log = db.with_suffix(".log")
        command = [sys.executable, __file__, "--serve", api.base_url, api.token, str(db)]
        self.proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log.open("w"),
            text=True,
            env=dict(os.environ),
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            self.close()
            raise RuntimeError(f"the bot did not start:\n{self.log.read_text()[-3000:]}")
        self.fire_at = float(line[1])

    def runs(self) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("runs?\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> str:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        errors = [
            line
            for line in self.log.read_text(errors="replace").splitlines()
            if " ERROR " in line or "Traceback" in line
        ]
        return "\n".join(errors[:5])


class Questions:
    """Users asking at a steady pace from a thread; push → reply latency per question."""

    def __init__(self, api: BotAPIStandIn, queries: list[str], first_user: int) -> None:
        self.api = api
        self.queries = queries
        self.next_user = first_user
        self.pushed: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def _run(self, count: int | None) -> None:
        i = 0
        while not self.stop.is_set() and (count is None or i < count):
            user = self.next_user
            self.next_user += 1
            self.pushed[user] = time.monotonic()
            self.api.push_message(self.queries[i % len(self.queries)], user_id=user)
            i += 1
            self.stop.wait(QUESTION_EVERY_S)

    def start(self, count: int | None = None) -> None:
        self.stop.clear()
        self.thread = threading.Thread(target=self._run, args=(count,), daemon=True)
        self.thread.start()

    def join(self) -> None:
        """Wait until a counted run has pushed its questions."""
        if self.thread:
            self.thread.join()

    def finish(self) -> None:
        """Stop an open-ended run."""
        self.stop.set()
        self.join()

    def latencies_ms(self, since: float = 0.0, timeout: float = 60.0) -> list[float]:
        """Latency of every question pushed after `since` (waits for the replies)."""
        wanted = {u: t for u, t in self.pushed.items() if t >= since}
        deadline = time.monotonic() + timeout
        while True:
            replies: dict[int, float] = {}
            for call in self.api.calls_to("sendMessage"):
                chat = call.params.get("chat_id")
                if chat in wanted and chat not in replies:
                    replies[chat] = call.at
            if len(replies) == len(wanted) or time.monotonic() > deadline:
                return [1000 * (replies[u] - t) for u, t in wanted.items() if u in replies]
            time.sleep(0.05)


def fan_out(chats: int, queries: list[str], with_questions: bool) -> dict[str, Any]:
    """One fan-out to `chats` chats (and the questions around it)."""
    common.log(f"digests: preparing {chats} subscriptions")
    with tempfile.TemporaryDirectory() as tmp, BotAPIStandIn() as api:
        db = Path(tmp) / "brief.db"
        prepare_db(db, chats)
        child = Child(api, db)
        result: dict[str, Any] = {"chats": chats}
        memory: list[float] = []
        try:
            asker = Questions(api, queries, first_user=10)
            if with_questions:
                asker.start(3)  # warm-up: the first answers load what answers need
                asker.join()
                asker.latencies_ms()
                warm = time.monotonic()
                asker.start(IDLE_QUESTIONS)
                asker.join()
                result["idle"] = asker.latencies_ms(since=warm)
            wait = child.fire_at - time.monotonic()
            if wait < 0:
                raise RuntimeError("the bot took too long to start: its time has passed")
            time.sleep(wait)
            fired = time.monotonic()
            if with_questions:
                asker.start()
            subscribed = set(range(FIRST_CHAT, FIRST_CHAT + chats))
            deadline = fired + chats / 30 * 3 + 60
            while True:
                memory.append(rss_mb(child.proc.pid))
                sends = [
                    c for c in api.calls_to("sendMessage") if c.params.get("chat_id") in subscribed
                ]
                heads = {
                    c.params["chat_id"]
                    for c in sends
                    if c.ok and str(c.params.get("text", "")).startswith(DIGEST_HEAD)
                }
                if len(heads) >= chats:
                    break
                if time.monotonic() > deadline:
                    break
                time.sleep(0.5)

            def digest_sends() -> list[Call]:
                calls = api.calls_to("sendMessage")
                return [c for c in calls if c.params.get("chat_id") in subscribed]

            settled = len(digest_sends())
            while True:  # a digest of several parts: its tail follows its head
                time.sleep(1.0)
                sends = digest_sends()
                if len(sends) == settled:
                    break
                settled = len(sends)
            if with_questions:
                asker.finish()
                result["busy"] = asker.latencies_ms(since=fired)
            ok = [c for c in sends if c.ok]
            per_chat: dict[int, int] = {}  # digests (first parts) per chat
            for c in ok:
                if str(c.params.get("text", "")).startswith(DIGEST_HEAD):
                    per_chat[c.params["chat_id"]] = per_chat.get(c.params["chat_id"], 0) + 1
            result["messages"] = len(ok)
            result["first"] = min(c.at for c in ok) - fired if ok else float("nan")
            result["wall"] = max(c.at for c in ok) - fired if ok else float("nan")
            result["lost"] = chats - len(per_chat)
            result["doubled"] = sum(1 for n in per_chat.values() if n > 1)
            result["errors_429"] = sum(1 for c in sends if c.error_code == 429)
            result["memory"] = memory
            result["runs"] = child.runs()
        finally:
            result["bot_errors"] = child.close()
    return result


def _p(values: list[float], q: float) -> str:
    return f"{common.percentile(values, q):.0f}" if values else "–"


def main(quick: bool = False) -> str:
    """Run the benchmark; return its markdown section."""
    started = time.perf_counter()
    load_before = common.load_average()
    queries = common.query_set(200, seed=5)
    sizes = (300,) if quick else (1000, 10_000)
    results = [fan_out(n, queries, with_questions=(n == sizes[0])) for n in sizes]

    rows = []
    for r in results:
        bound = r["messages"] / 30
        memory = r["memory"]
        rows.append(
            [
                f"{r['chats']:,}",
                f"{r['messages']:,}",
                f"{r['wall']:.1f}",
                f"{bound:.1f}",
                f"{r['wall'] / bound:.2f}",
                f"{r['messages'] / r['wall']:.1f}",
                f"{r['lost']} / {r['doubled']}",
                f"{memory[0]:.0f} → {max(memory):.0f} → {memory[-1]:.0f}",
                r["runs"],
            ]
        )
        common.target(
            "digests",
            f"{r['chats']:,} chats within 10 % of messages/30 s "
            f"(≤ {bound * TARGET_SLACK:.0f} s), none lost",
            f"{r['wall']:.1f} s, {r['lost']} lost, {r['doubled']} doubled",
            r["wall"] <= bound * TARGET_SLACK and r["lost"] == 0 and r["doubled"] == 0,
        )
    first = results[0]
    idle, busy = first.get("idle", []), first.get("busy", [])
    idle_p95 = common.percentile(idle, 95)
    busy_p95 = common.percentile(busy, 95)
    common.target(
        "digests",
        f"question p95 during the {first['chats']:,}-chat fan-out ≤ 2 × idle p95",
        f"{busy_p95:.0f} ms vs {idle_p95:.0f} ms idle",
        busy_p95 <= TARGET_P95_FACTOR * idle_p95,
    )
    out = ["## Digest fan-out through the Bot API stand-in (bench/bench_digests.py)", ""]
    out.append(
        f"The real `Application` in its own process, with the shipped flood limits "
        f"(bot/ratelimit.py: broadcasts at 30 messages/s in their own lane), over a store of "
        f"{ARTICLES} articles from news_asia_pacific (published dates set to now, so they are "
        f"news) and N subscriptions all at {AT} UTC; its clock is set so that the time comes "
        f"{FIRE_IN_S:g} s after start-up and APScheduler fires every job at once. Wall = the "
        "jobs' time → the last digest message's arrival at the stand-in; bound = messages / 30 s "
        f"(each digest holds {MAX_STORIES} stories, one message where it fits). Memory = the "
        "bot's resident set (MiB) at the start of the run → its peak → the end. "
        + ("Quick mode: 300 chats only; the full run does 1,000 and 10,000." if quick else "")
    )
    out.append("")
    out.append(
        common.table(
            [
                "chats",
                "digest messages",
                "wall s",
                "bound s",
                "wall / bound",
                "messages/s",
                "lost / doubled",
                "bot RSS MiB",
                "runs (sent,failed,skipped)",
            ],
            rows,
        )
    )
    out += [
        "",
        f"Questions from other users, one every {QUESTION_EVERY_S:g} s (push → reply, ms): "
        f"idle p50 {_p(idle, 50)} / p95 {_p(idle, 95)} ({len(idle)} questions); during the "
        f"{first['chats']:,}-chat fan-out p50 {_p(busy, 50)} / p95 {_p(busy, 95)} "
        f"({len(busy)} questions). 429s from the stand-in: "
        + ", ".join(str(r["errors_429"]) for r in results)
        + ".",
    ]
    errors = [f"{r['chats']}: {r['bot_errors']}" for r in results if r["bot_errors"]]
    if errors:
        out += ["", "Errors the bot logged:", "", "```", *errors, "```"]
    out += common.footer(load_before, started)
    return "\n".join(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="300 chats only")
    parser.add_argument("--serve", nargs=3, metavar=("API_URL", "TOKEN", "DB"), help="(internal)")
    args = parser.parse_args()
    if args.serve:
        api_url, token, db = args.serve
        asyncio.run(serve(api_url, token, Path(db), FIRE_IN_S))
    else:
        print(main(quick=args.quick))
