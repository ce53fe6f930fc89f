"""`brief`: the command line. Thin: parse, call the service, print."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from knowledge import logs
from knowledge.build import build_service
from knowledge.digests import next_run
from knowledge.errors import BriefError, SettingsError
from knowledge.ids import MAX_ID, parse_id
from knowledge.models import Brief, Digest, ImportReport, PollReport, Source, Subscription
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from knowledge.store import backup as store_backup
from knowledge.store import utcnow
from knowledge.store.backup import BackupReport

app = typer.Typer(
    help="indopac-brief: Indo-Pacific briefings from your own article store.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
PROGRESS_THRESHOLD = 200  # lines; smaller imports finish before a bar would help


def _settings() -> Settings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        settings = load_settings()
    except SettingsError as exc:
        raise _fail(str(exc), code=2) from None
    logs.configure(settings.log_level, settings.log_format)
    return settings


@app.callback()
def _check_settings() -> None:
    """Every command starts by loading the settings: a bad one stops it before it does anything."""
    _settings()


@contextmanager
def _service() -> Iterator[BriefService]:
    service = build_service(_settings())
    try:
        yield service
    finally:
        service.close()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", markup=True, highlight=False)
    return typer.Exit(code)


def _print_report(report: ImportReport) -> None:
    out.print(
        f"imported {report.imported}, duplicates {report.duplicates}, "
        f"linked to an earlier story {report.linked}, rejected {len(report.rejected)}"
    )
    for rejection in report.rejected:
        out.print(f"  line {rejection.line}: {rejection.reason}", markup=False)


def _count_lines(path: Path) -> int:
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def _id(text: str) -> int:
    """A row id on the command line: ASCII digits within what the store holds."""
    value = parse_id(text)
    if value is None:
        raise typer.BadParameter(f"{text[:30]!r} is not an id (digits 0-9, at most {MAX_ID})")
    return value


def _chat_id(text: str) -> int:
    """A Telegram chat id: ASCII digits, negative for groups."""
    value = parse_id(text, negative=True)
    if value is None:
        raise typer.BadParameter(f"{text[:30]!r} is not a chat id (e.g. 12345 or -100123)")
    return value


def _when(value: datetime | None) -> str:
    return value.date().isoformat() if value else "undated"


@app.command()
def seed() -> None:
    """Load the seed articles and sources from seeds/ (running it twice adds nothing)."""
    try:
        with _service() as service:
            report = service.seed()
    except BriefError as exc:
        raise _fail(str(exc)) from None
    out.print(f"seeds: imported {report.imported}, already there {report.duplicates}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="JSONL file (.jsonl or .jsonl.gz)")],
) -> None:
    """Import articles: one JSON object a line with title, text, url, published, source."""
    if not file.is_file():
        raise _fail(f"{file}: no such file")
    try:
        with _service() as service:
            total = _count_lines(file)
            if total >= PROGRESS_THRESHOLD and sys.stderr.isatty():
                with Progress(
                    TextColumn("importing"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    TimeElapsedColumn(),
                    console=err,
                ) as bar:
                    task = bar.add_task("import", total=total)
                    report = service.import_file(file, lambda n: bar.update(task, completed=n))
            else:
                report = service.import_file(file)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:
        raise _fail(f"{file}: {exc}") from None
    _print_report(report)


def _brief_json(brief: Brief) -> str:
    return json.dumps(
        [
            {
                "url": hit.article.url,
                "title": hit.article.title,
                "source": hit.article.source,
                "published": hit.article.published.isoformat() if hit.article.published else None,
                "summary": hit.article.summary,
                "score": hit.score,
                "similarity": hit.similarity,
                "also": [{"source": c.source, "url": c.url} for c in hit.also],
            }
            for hit in brief.hits
        ],
        ensure_ascii=False,
        indent=2,
    )


@app.command()
def ask(
    query: Annotated[str, typer.Argument(help="a topic, e.g. 'Scarborough Shoal'")],
    k: Annotated[int, typer.Option("-k", min=1, max=50, help="how many stories")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Brief on a topic: the nearest stories, best first."""
    try:
        with _service() as service:
            brief = service.ask(query, k=k)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(_brief_json(brief))
        return
    if not brief.hits:
        out.print(f"Nothing on “{brief.query}” yet.", markup=False)
        return
    for number, hit in enumerate(brief.hits, start=1):
        a = hit.article
        out.print(f"{number}. {a.title}", style="bold", markup=False)
        outlet = f"{a.source} · {a.kind}" if a.kind != "unknown" else a.source
        out.print(f"   {outlet} · {_when(a.published)} · {a.url or 'no link'}", markup=False)
        out.print(f"   {a.summary}", markup=False)
        if hit.also:
            out.print("   also: " + ", ".join(c.source for c in hit.also), markup=False)


def _print_digest(digest: Digest, sub: Subscription | None) -> None:
    day = digest.local_date.strftime("%A %-d %b %Y")
    where = sub.timezone if sub else "UTC"
    out.print(f"Digest for chat {digest.chat_id} · {day} ({where})", style="bold", markup=False)
    if sub is None:
        out.print("(not subscribed: what a new subscription would get)", markup=False)
    since = digest.since.strftime("%Y-%m-%d %H:%M UTC")
    out.print(f"new since {since} · {digest.stories} stories", markup=False)
    if digest.empty:
        out.print("Nothing new.", markup=False)
        return
    number = 0
    for section in digest.sections:
        out.print("")
        out.print(section.topic, style="bold", markup=False)
        for hit in section.hits:
            number += 1
            a = hit.article
            out.print(f"{number}. {a.title}", markup=False)
            out.print(f"   {a.source} · {_when(a.published)} · {a.url or 'no link'}", markup=False)
            if hit.also:
                out.print("   also: " + ", ".join(c.source for c in hit.also), markup=False)
        if section.more:
            out.print(f"   + {section.more} more", markup=False)


def _print_subscriptions(subs: list[Subscription], now: datetime) -> None:
    if not subs:
        out.print("No chat is subscribed to the digest.", markup=False)
        return
    for sub in subs:
        last = sub.last_sent_at.strftime("%Y-%m-%d %H:%M UTC") if sub.last_sent_at else "never"
        out.print(
            f"chat {sub.chat_id} · {sub.at:%H:%M} {sub.timezone} · next "
            f"{next_run(sub, now):%Y-%m-%d %H:%M} UTC · last sent {last} · topics: "
            + (", ".join(sub.topics) or "everything"),
            markup=False,
        )


@app.command()
def digest(
    chat: Annotated[
        int | None, typer.Option("--chat", help="a chat id", parser=_chat_id, metavar="ID")
    ] = None,
    preview: Annotated[
        bool, typer.Option("--preview", help="print the chat's digest; nothing is sent")
    ] = False,
    topic: Annotated[
        list[str] | None,
        typer.Option("--topic", help="preview as if the chat followed this topic (repeatable)"),
    ] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="compose as of this time (ISO 8601, UTC)")
    ] = None,
) -> None:
    """Daily digests: the subscribed chats, or a chat's digest, not sent (--chat ID --preview)."""
    try:
        now = datetime.fromisoformat(at) if at else utcnow()
    except ValueError:
        raise _fail(f"--at {at!r} is not an ISO 8601 time (e.g. 2026-11-30T07:00)") from None
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if chat is not None and not preview:
        raise _fail("The command line never sends a digest (the bot does); add --preview.")
    try:
        with _service() as service:
            if chat is None:
                _print_subscriptions(service.subscriptions(), now)
                return
            sub = service.subscription(chat)
            composed = service.compose_digest(chat, now, topics=tuple(topic) if topic else None)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    _print_digest(composed, sub)


@app.command()
def stats() -> None:
    """Counts and health of the store."""
    try:
        with _service() as service:
            s = service.stats()
    except BriefError as exc:
        raise _fail(str(exc)) from None
    table = Table(show_header=False, box=None)
    for name, value in (
        ("articles", f"{s.articles:,}"),
        ("stories", f"{s.stories:,}"),
        ("sources", f"{s.sources:,}"),
        ("chats", f"{s.chats:,}"),
        ("last ingest", s.last_ingest.isoformat() if s.last_ingest else "never"),
        ("store", f"{s.store} ({s.db_bytes / 1e6:.1f} MB, schema v{s.schema_version})"),
    ):
        table.add_row(name, value)
    out.print(table)


def _sqlite_db() -> Path:
    settings = _settings()
    if settings.database_url:
        raise _fail(
            "brief backup and restore copy the SQLite file; for PostgreSQL use pg_dump and "
            "pg_restore."
        )
    return Path(settings.db)


def _copied(report: BackupReport) -> str:
    return (
        f"{report.articles} articles, {report.sources} sources, "
        f"schema v{report.schema_version}, {report.size_bytes / 1e6:.1f} MB"
    )


@app.command()
def backup(path: Annotated[Path, typer.Argument(help="the file to write")]) -> None:
    """Copy the database to PATH, consistent while the bot runs; the copy is checked."""
    db = _sqlite_db()
    try:
        report = store_backup.backup(db, path)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    out.print(f"backed up {db} to {report.path}: {_copied(report)}", markup=False)


@app.command()
def restore(path: Annotated[Path, typer.Argument(help="a file `brief backup` wrote")]) -> None:
    """Replace the database with a backup; refused while the bot holds the store."""
    db = _sqlite_db()
    try:
        report = store_backup.restore(path, db)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    out.print(f"restored {db} from {path}: {_copied(report)}", markup=False)


@app.command()
def config() -> None:
    """Print the effective settings (secrets redacted)."""
    try:
        settings = _settings()
    except BriefError as exc:
        raise _fail(str(exc), code=2) from None
    for name, value in settings.redacted().items():
        out.print(f"{name} = {json.dumps(value, ensure_ascii=False)}", markup=False)


def _serve(front_door: Callable[[Settings], int]) -> None:
    """Run a long-lived front door (the bot, the terminal chat); exit with its code."""
    try:
        code = front_door(_settings())
    except BriefError as exc:
        raise _fail(str(exc), code=1) from None
    raise typer.Exit(code)


@app.command()
def run() -> None:
    """Run the Telegram bot (long polling, or a webhook when BRIEF_WEBHOOK_URL is set)."""
    from bot.app import run_bot

    _serve(run_bot)


@app.command()
def chat() -> None:
    """Talk to the bot in this terminal: no token needed."""
    from bot.terminal import run_chat

    _serve(run_chat)


def main() -> None:
    """Entry point of the `brief` console script."""
    try:
        app()
    except BriefError as exc:  # settings errors surface before any command runs
        err.print(f"error: {exc}", markup=False)
        sys.exit(2)


# --- sources ---------------------------------------------------------------------------------

sources_app = typer.Typer(
    help="The feeds and pages the bot polls: add, list, remove, import and export OPML.",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _source_json(source: Source) -> dict[str, object]:
    return {
        "id": source.id,
        "url": source.url,
        "kind": source.kind,
        "outlet_kind": source.outlet_kind,
        "outlet_kind_set": source.outlet_kind_set,
        "title": source.title,
        "articles": source.articles,
        "error": source.last_error,
        "paused": source.paused,
        "paused_reason": source.paused_reason,
        "error_streak": source.error_streak,
        "last_success": _time(source.last_success),
        "last_new_item": _time(source.last_new_item),
        "next_poll_at": _time(source.next_poll_at),
        "added_at": _time(source.added_at),
    }


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="a feed, a site that advertises one, or a page")],
    name: Annotated[str | None, typer.Option("--name", help="what to call it")] = None,
) -> None:
    """Fetch URL once, say what it is and how many items it has, then store it."""
    try:
        with _service() as service:
            added = service.add_source(url, name)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    s = added.source
    noun = "item" if added.items == 1 else "items"
    out.print(f"added #{s.id} {s.name}: {added.found} with {added.items} {noun}", markup=False)
    out.print(f"  {s.url}", markup=False)


@sources_app.command("list")
def sources_list(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Every source with its health: articles, last success, errors, paused."""
    try:
        with _service() as service:
            sources = service.list_sources()
    except BriefError as exc:
        raise _fail(str(exc)) from None
    if as_json:
        print(json.dumps([_source_json(s) for s in sources], ensure_ascii=False, indent=2))
        return
    if not sources:
        out.print("No sources yet: `brief sources add URL` or `brief seed`.", markup=False)
        return
    table = Table(box=None)
    for header, _ in SOURCE_COLUMNS:
        table.add_column(header, no_wrap=True)
    for s in sources:
        table.add_row(*(cell(s) for _, cell in SOURCE_COLUMNS))
    # As wide as the rows need: a URL is never cut or folded (two sources with similar names
    # are told apart by it, and it is copied from here).
    wanted = Measurement.get(out, out.options.update(width=10_000), table).maximum
    Console(highlight=False, width=max(wanted, out.width)).print(table)


def _source_state(s: Source) -> str:
    if s.paused:
        return f"paused: {s.paused_reason or ''}"
    if s.last_error:
        return f"error: {s.last_error} ({s.error_streak} in a row)"
    return "ok" if s.last_success else "not polled yet"


def _minute(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "never"


# The columns of `brief sources list`, in order: (header, cell). `kind` is how the source is
# read (feed or page), `outlet` who is speaking (knowledge/provenance.py).
SOURCE_COLUMNS: tuple[tuple[str, Callable[[Source], str]], ...] = (
    ("id", lambda s: str(s.id)),
    ("name", lambda s: s.name),
    ("url", lambda s: s.url),
    ("kind", lambda s: s.kind),
    ("outlet", lambda s: s.outlet_kind),
    ("articles", lambda s: f"{s.articles:,}"),
    ("last poll", lambda s: _minute(s.last_polled)),
    ("last success", lambda s: _minute(s.last_success)),
    ("state", _source_state),
)


@sources_app.command("remove")
def sources_remove(
    source_id: Annotated[
        int, typer.Argument(help="the id `list` shows", parser=_id, metavar="ID")
    ],
) -> None:
    """Stop polling a source; its articles stay."""
    try:
        with _service() as service:
            source = service.remove_source(source_id)
    except BriefError as exc:
        raise _fail(str(exc)) from None
    noun = "article stays" if source.articles == 1 else "articles stay"
    out.print(f"removed #{source.id} {source.name} (its {source.articles} {noun})", markup=False)


@sources_app.command("kind")
def sources_kind(
    source_id: Annotated[
        int, typer.Argument(help="the id `list` shows", parser=_id, metavar="ID")
    ],
    kind: Annotated[
        list[str],
        typer.Argument(
            help="state media, government, wire, independent, think tank, unknown; or auto "
            "(the shipped table's)"
        ),
    ],
) -> None:
    """Set a source's kind of outlet; its articles show it as a tag from now on."""
    try:
        with _service() as service:
            source = service.set_source_kind(source_id, " ".join(kind))
    except BriefError as exc:
        raise _fail(str(exc)) from None
    how = "set" if source.outlet_kind_set else "from the table"
    out.print(f"#{source.id} {source.name}: {source.outlet_kind} ({how})", markup=False)


@sources_app.command("import")
def sources_import(file: Annotated[Path, typer.Argument(help="an OPML file")]) -> None:
    """Add each outline's xmlUrl as a feed, without fetching (problems show at ingest)."""
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise _fail(f"{file}: {exc.strerror or exc}") from None
    try:
        with _service() as service:
            report = service.import_opml(data)
    except BriefError as exc:
        raise _fail(f"{file}: {exc}") from None
    out.print(
        f"added {len(report.added)}, already there {len(report.already)}, "
        f"refused {len(report.refused)}",
        markup=False,
    )
    for url, reason in report.refused:
        out.print(f"  {url}: {reason}", markup=False)


@sources_app.command("export")
def sources_export() -> None:
    """Print every source as OPML (feed readers import it)."""
    try:
        with _service() as service:
            document = service.export_opml()
    except BriefError as exc:
        raise _fail(str(exc)) from None
    sys.stdout.write(document)


def _print_poll(report: PollReport) -> None:
    for p in report.polls:
        if p.status == "failed":
            tail = "paused" if p.paused else f"next try {_time(p.next_poll_at)}"
            line = f"#{p.source_id} {p.name}: failed: {p.error} ({tail})"
        elif p.status == "not_modified":
            line = f"#{p.source_id} {p.name}: not modified"
        else:
            line = (
                f"#{p.source_id} {p.name}: {p.items} items, {p.new} new: stored {p.stored} "
                f"(linked {p.linked}), duplicates {p.duplicates}, rejected {p.rejected}"
            )
        out.print(line, markup=False)
    out.print(
        f"polled {len(report.polls)}: stored {report.stored} (linked {report.linked}), "
        f"duplicates {report.duplicates}, failed {len(report.failed)}",
        markup=False,
    )


@app.command()
def ingest(
    source: Annotated[
        int | None,
        typer.Option("--source", help="poll only this source", parser=_id, metavar="ID"),
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="keep polling the sources as they fall due")
    ] = False,
) -> None:
    """Poll the sources now (all, or --source ID); --loop keeps polling as each falls due."""
    try:
        with _service() as service:
            if not loop:
                report = service.ingest_sources(source)
                _print_poll(report)
                if report.polls and len(report.failed) == len(report.polls):
                    raise typer.Exit(1)
                return
            if source is not None:
                raise _fail("--loop polls every source as it falls due; drop --source")
            while True:
                report = service.poll_due()
                if report.polls:
                    _print_poll(report)
                time.sleep(_loop_wait(service.next_due_source()))
    except BriefError as exc:
        raise _fail(str(exc)) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _loop_wait(next_due: datetime | None) -> float:
    """Seconds until the next source is due, between 1 s and a minute."""
    if next_due is None:
        return 60.0
    return min(60.0, max(1.0, (next_due - datetime.now(UTC)).total_seconds()))
