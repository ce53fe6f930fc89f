"""`brief backup` and `brief restore`: a backup taken while the bot answers (and writes) opens and
holds every article; restore refuses while a bot holds the store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import Application
from typer.testing import CliRunner

from bot.app import build_application
from bot.cli import app as cli_app
from bot.standin import BotAPIStandIn
from knowledge.build import build_service
from knowledge.service import BriefService
from knowledge.settings import Settings, load_settings
from knowledge.store.backup import hold_store
from tests.bot.conftest import ARTICLES, say

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def standin() -> Iterator[BotAPIStandIn]:
    with BotAPIStandIn() as api:
        yield api


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "live.db"


@pytest.fixture
async def answering(
    db: Path, standin: BotAPIStandIn, embedder: object
) -> AsyncIterator[tuple[Application, BriefService, Settings]]:  # type: ignore[type-arg]
    settings = load_settings(
        db=db, telegram_token=standin.token, telegram_api_url=standin.base_url, webhook_url=""
    )
    service = build_service(settings, embedder=embedder)  # type: ignore[arg-type]
    service.import_records(list(enumerate(ARTICLES, start=1)))
    app = build_application(settings, service)
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    yield app, service, settings
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    service.close()


def count(path: Path) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    finally:
        conn.close()


async def test_a_backup_while_the_bot_answers_and_writes_holds_every_article(
    answering: tuple[Application, BriefService, Settings],  # type: ignore[type-arg]
    standin: BotAPIStandIn,
    db: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, service, _ = answering
    monkeypatch.setenv("BRIEF_DB", str(db))
    extra = [
        (
            n,
            {
                "title": f"Coast guard patrol report {n}",
                "text": f"Patrol {n} logged {n * 3} contacts near reef {n} in the night.",
                "url": f"https://backup.example/{n}",
                "source": "Example Wire",
            },
        )
        for n in range(1, 41)
    ]
    writing = threading.Thread(target=service.import_records, args=(extra,))
    writing.start()  # the bot's store is being written while the backup runs
    target = tmp_path / "copies" / "brief-backup.db"
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, ["backup", str(target)])
    reply = await say(standin, "Taiwan Strait tensions", 777)  # and the bot answers meanwhile
    writing.join()
    assert result.exit_code == 0, result.output
    assert reply.plain_text.startswith("Brief: Taiwan Strait tensions")
    assert result.output.startswith(f"backed up {db} to {target}: ")
    stored_at_backup = count(target)
    assert len(ARTICLES) <= stored_at_backup <= len(ARTICLES) + len(extra)
    again = tmp_path / "after.db"
    assert CliRunner().invoke(cli_app, ["backup", str(again)]).exit_code == 0
    assert count(again) == service.stats().articles == len(ARTICLES) + len(extra)
    conn = sqlite3.connect(again)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    finally:
        conn.close()


def test_restore_refuses_while_the_store_is_held_and_restores_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: object
) -> None:
    db = tmp_path / "brief.db"
    monkeypatch.setenv("BRIEF_DB", str(db))
    cli = CliRunner()
    assert cli.invoke(cli_app, ["seed"]).exit_code == 0
    saved = tmp_path / "saved.db"
    assert cli.invoke(cli_app, ["backup", str(saved)]).exit_code == 0
    path = tmp_path / "more.jsonl"
    path.write_text(
        json.dumps(
            {
                "title": "Later story",
                "text": "Added after the backup.",
                "url": "https://x.example/1",
            }
        )
        + "\n"
    )
    assert cli.invoke(cli_app, ["import", str(path)]).output.startswith("imported 1,")
    holder = subprocess.Popen(  # a bot process holding the store
        [
            sys.executable,
            "-c",
            "import sys, pathlib; from knowledge.store.backup import hold_store\n"
            f"with hold_store(pathlib.Path({str(db)!r})):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        refused = cli.invoke(cli_app, ["restore", str(saved)])
        assert refused.exit_code == 1
        assert f"The bot holds {db} (process {holder.pid})" in refused.output
        assert count(db) == 2  # nothing changed
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
        if holder.stdout is not None:
            holder.stdout.close()
    restored = cli.invoke(cli_app, ["restore", str(saved)])
    assert restored.exit_code == 0, restored.output
    assert restored.output.startswith(f"restored {db} from {saved}: 1 articles")
    assert count(db) == 1
    with hold_store(db):  # this process holding it: refused too
        assert cli.invoke(cli_app, ["restore", str(saved)]).exit_code == 1
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    bad = cli.invoke(cli_app, ["restore", str(junk)])
    assert bad.exit_code == 1 and "junk.db" in bad.output
    assert count(db) == 1
