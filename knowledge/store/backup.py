"""Backups of the SQLite store: `brief backup PATH` and `brief restore PATH`.

Backup uses SQLite's online backup API (`sqlite3.Connection.backup`): a consistent copy page by
page while the bot keeps reading and writing (WAL), written to a temporary file beside PATH and
renamed into place only once it opens and passes `PRAGMA quick_check`.

Restore refuses while a bot holds the store. A process that serves the store (`brief run`,
`brief chat`) holds a shared `flock` on `<db>.lock` for its lifetime (`hold_store`); restore
takes the exclusive lock without waiting, so it fails at once while any holder runs, and a
crashed holder's lock goes with its process (no stale pidfile to clear). The pid in the file is
only for the message.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from knowledge.errors import StoreError


@dataclass(frozen=True, slots=True)
class BackupReport:
    """What a backup or restore copied."""

    path: Path
    articles: int
    sources: int
    schema_version: int
    size_bytes: int


def lock_path(db: Path) -> Path:
    """The lock file beside the database."""
    return Path(f"{db}.lock")


@contextlib.contextmanager
def hold_store(db: Path) -> Iterator[None]:
    """Hold the store for this process (shared: several holders may run): restore refuses
    until every holder has let go."""
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_SH)
        with contextlib.suppress(OSError):
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _check(path: Path) -> BackupReport:
    """Open `path` read-only and count what it holds; StoreError when it is not a usable
    database of this program."""
    try:
        conn = sqlite3.connect(f"file:{path.resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{path} cannot be opened: {exc}") from exc
    try:
        verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StoreError(f"{path} is damaged: {verdict}")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        articles = int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
        sources = int(conn.execute("SELECT count(*) FROM sources").fetchone()[0])
    except sqlite3.Error as exc:
        raise StoreError(f"{path} is not an indopac-brief database: {exc}") from exc
    finally:
        conn.close()
    return BackupReport(path, articles, sources, version, path.stat().st_size)


def backup(db: Path, target: Path) -> BackupReport:
    """Copy the live database `db` to `target` (consistent while others write), checked by
    opening the copy; StoreError when `db` is missing or the copy fails its check."""
    if not db.is_file():
        raise StoreError(f"There is no database at {db} to back up.")
    if target.resolve() == db.resolve():
        raise StoreError("The backup cannot overwrite the database itself.")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{db.resolve()}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(partial)
    try:
        source.backup(copy, pages=1024)  # in steps: writers are blocked only between them
        copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"The backup of {db} failed: {exc}") from exc
    finally:
        copy.close()
        source.close()
    try:
        report = _check(partial)
    except StoreError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return BackupReport(
        target, report.articles, report.sources, report.schema_version, report.size_bytes
    )


def restore(backup_file: Path, db: Path) -> BackupReport:
    """Replace the database `db` with `backup_file` (checked first); StoreError while a bot
    holds the store, or when the file is not a usable backup."""
    if not backup_file.is_file():
        raise StoreError(f"{backup_file}: no such file.")
    report = _check(backup_file)
    lock = lock_path(db)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with lock.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pids = ", ".join(line.strip() for line in handle if line.strip()) or "?"
            raise StoreError(
                f"The bot holds {db} (process {pids}): stop it (`brief run`, `brief chat`), "
                "then restore."
            ) from None
        try:
            source = sqlite3.connect(f"file:{backup_file.resolve()}?mode=ro", uri=True)
            target = sqlite3.connect(db, timeout=30)
            try:
                source.backup(target)
            except sqlite3.Error as exc:
                raise StoreError(f"Restoring {db} from {backup_file} failed: {exc}") from exc
            finally:
                target.close()
                source.close()
            handle.truncate(0)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return BackupReport(
        db, report.articles, report.sources, report.schema_version, report.size_bytes
    )
