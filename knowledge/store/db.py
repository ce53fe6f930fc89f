"""The SQLite file: opening it, migrating it, and the connections every row module uses.

One writer connection, behind a lock, gives transactions (`write()`); each thread reads through
a connection of its own (`read()`), so queries never wait for each other or for a write (WAL).
"""

from __future__ import annotations

import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from knowledge.errors import StoreCorruptError, StoreError, StoreReadOnlyError

BUSY_TIMEOUT_S = 30.0


def utcnow() -> datetime:
    """Now, in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def to_db_time(value: datetime | None) -> str | None:
    """Datetimes are stored as sortable UTC ISO strings."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_db_time(value: str | None) -> datetime | None:
    """The inverse of to_db_time."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# The index's vocabulary (term, documents, occurrences) for search's document frequencies.
READER_SETUP = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS temp.articles_vocab "
    "USING fts5vocab(main, 'articles_fts', 'row')",
)


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, SQL) of every file in knowledge/store/migrations/, in version order.
    A file NNN_name.sql moves a database to schema version NNN."""
    found: list[tuple[int, str, str]] = []
    for entry in resources.files("knowledge.store").joinpath("migrations").iterdir():
        number, _, rest = entry.name.partition("_")
        if entry.name.endswith(".sql") and number.isdigit():
            found.append((int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort()
    return found


def schema_version() -> int:
    """The schema version this program migrates to."""
    return max((number for number, _, _ in migrations()), default=0)


def statements(script: str) -> list[str]:
    """Split a SQL script into complete statements (a trigger's body stays whole)."""
    out: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \t\n;") and _has_code(pending):
                out.append(pending.strip())
            pending = ""
    return out


def _has_code(statement: str) -> bool:
    lines = [line.split("--", 1)[0].strip() for line in statement.splitlines()]
    return any(line and line != ";" for line in lines)


def _is_marked_read_only(path: Path) -> bool:
    # Read the permission bits rather than os.access: as root, access() says yes to everything.
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return False
    return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


class Database:
    """One SQLite database file: migrations, a writer connection, per-thread readers."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.read_only = _is_marked_read_only(self.path)
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        if self.read_only:
            self._check_version(self._open_reader_connection())
        else:
            self._writer = self._open_writer()

    # --- opening --------------------------------------------------------------------------
    def _connect(self, uri: str | None = None) -> sqlite3.Connection:
        try:
            if uri is not None:
                conn = sqlite3.connect(
                    uri, uri=True, check_same_thread=False, isolation_level=None
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,  # transactions are explicit: BEGIN IMMEDIATE … COMMIT
                )
        except (sqlite3.OperationalError, OSError) as exc:
            raise StoreError(f"Cannot open the database {self.path}: {exc}") from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _open_writer(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            _retry_busy(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self.translate(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_reader_connection(self) -> sqlite3.Connection:
        if self.read_only:
            # immutable: no locks, no -wal/-shm files, nothing written beside the file
            conn = self._connect(f"file:{self.path.resolve()}?mode=ro&immutable=1")
        else:
            conn = self._connect()
        # Per-connection TEMP objects (no migration; allowed on read-only files too), made
        # before query_only, which forbids creating even TEMP tables.
        for statement in READER_SETUP:
            conn.execute(statement)
        if not self.read_only:
            conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA foreign_keys = ON")
        with self._readers_lock:
            self._readers.append(conn)
        return conn

    def _check_version(self, conn: sqlite3.Connection) -> None:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self.translate(exc) from exc
        target = schema_version()
        if version > target:
            self.close()
            raise self._too_new(version, target)
        if version < target:
            self.close()
            raise StoreReadOnlyError(
                f"The database {self.path} is read-only and needs migrating to schema "
                f"version {target}; make it writable (chmod u+w) and run again."
            )

    def _too_new(self, version: int, target: int) -> StoreError:
        return StoreError(
            f"The database {self.path} has schema version {version}, newer than this "
            f"program's {target}. Upgrade indopac-brief."
        )

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Apply each pending migration in one transaction with its version number, so a crash
        or a second process opening the same new file never runs a step twice."""
        target = schema_version()
        for number, _name, script in migrations():
            conn.execute("BEGIN IMMEDIATE")  # waits for another process migrating the file
            try:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                if version > target:
                    raise self._too_new(version, target)
                if version < number:
                    for statement in statements(script):
                        conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # --- using ----------------------------------------------------------------------------
    def translate(self, exc: sqlite3.DatabaseError) -> StoreError:
        """The domain error for a SQLite error on this file."""
        message = str(exc).lower()
        if "readonly" in message or "read-only" in message:
            return self._read_only_error()
        if isinstance(exc, sqlite3.OperationalError) and "malformed" not in message:
            return StoreError(f"Database error on {self.path}: {exc}")
        return StoreCorruptError(
            f"{self.path} is not a usable SQLite database ({exc}). It was left as it is: "
            "move it aside and run `brief seed` to start a new one, or restore a backup."
        )

    def _read_only_error(self) -> StoreReadOnlyError:
        return StoreReadOnlyError(
            f"The database {self.path} is read-only: nothing was written. "
            "Make it writable (chmod u+w) or set BRIEF_DB to another file."
        )

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"The database {self.path} is closed.")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open_reader_connection()
            self._local.conn = conn
        return conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A connection of this thread's own for reading (autocommit: each statement sees the
        newest committed data)."""
        try:
            yield self._reader()
        except sqlite3.DatabaseError as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The writer connection inside one transaction (BEGIN IMMEDIATE … COMMIT); rolled
        back when the block raises."""
        if self._writer is None:
            raise self._read_only_error()
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self.translate(exc) from exc
            try:
                yield conn
                conn.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                _rollback(conn)
                raise self.translate(exc) from exc
            except BaseException:
                _rollback(conn)
                raise

    def ping(self, timeout_s: float = 2.0) -> int:
        """Reach the file afresh, as a restart would (a new connection, not the open ones,
        which keep reading a file that was moved or deleted): its schema version, or
        StoreError saying why it cannot be reached."""
        mode = "ro" if self.read_only else "rw"  # never creates the file
        try:
            conn = sqlite3.connect(
                f"file:{self.path.resolve()}?mode={mode}", uri=True, timeout=timeout_s
            )
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"Cannot open the database {self.path}: {exc}") from exc
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot read the database {self.path}: {exc}") from exc
        finally:
            conn.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self.read() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close every connection."""
        self._closed = True
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _retry_busy(step: object, attempts: int = 50) -> None:
    """Run `step` again while another connection holds a lock it needs (journal_mode = WAL
    on a file that another process is opening returns SQLITE_BUSY without waiting)."""
    for attempt in range(attempts):
        try:
            step()  # type: ignore[operator]
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc).lower() or attempt == attempts - 1:
                raise
            time.sleep(0.05)
