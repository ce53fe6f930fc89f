"""The one facade that bot/ and the CLI call. Methods are synchronous and thread-safe;
async callers run them through asyncio.to_thread."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from knowledge.models import Brief, Hit, ImportReport, Source, Stats, Topic
from knowledge.settings import Settings

ProgressCallback = Callable[[int], None]  # called with the number of lines done so far


class BriefService:
    """Ask, import, seed, stats, chats and sources: everything the front doors need."""

    def __init__(self, settings: Settings, embedder: object | None = None) -> None:
        raise NotImplementedError

    # --- life cycle -----------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model and the search index now rather than on the first query."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the database."""
        raise NotImplementedError

    # --- reading --------------------------------------------------------------------------
    def ask(self, query: str, k: int | None = None, offset: int = 0) -> Brief:
        """A page of the stories nearest to `query`; Brief.hits is empty when nothing is
        relevant. Raises QueryError for an empty or too-long query."""
        raise NotImplementedError

    def latest(self, k: int | None = None, offset: int = 0) -> Brief:
        """The newest stories, newest first (Brief.query is "")."""
        raise NotImplementedError

    def topics(self) -> tuple[Topic, ...]:
        """The region's topics from the settings, in order."""
        raise NotImplementedError

    def stats(self) -> Stats:
        """Counts and health."""
        raise NotImplementedError

    # --- writing --------------------------------------------------------------------------
    def import_records(
        self, records: Iterable[tuple[int, object]], progress: ProgressCallback | None = None
    ) -> ImportReport:
        """Import (line number, decoded JSON object or an error string) pairs."""
        raise NotImplementedError

    def import_file(self, path: Path, progress: ProgressCallback | None = None) -> ImportReport:
        """Import a JSONL file (gzip read directly when the name ends in .gz)."""
        raise NotImplementedError

    def seed(self) -> ImportReport:
        """Load the seed articles and sources from seeds/; a second call adds nothing."""
        raise NotImplementedError

    # --- chats ----------------------------------------------------------------------------
    def record_chat(self, chat_id: int, kind: str, title: str = "") -> None:
        """Remember a chat the bot talks in (for stats and, later, digests)."""
        raise NotImplementedError

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """The bot was blocked or removed from the chat: stop sending to it."""
        raise NotImplementedError

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything to the new id."""
        raise NotImplementedError

    # --- sources --------------------------------------------------------------------------
    def list_sources(self) -> tuple[Source, ...]:
        """Sources added for polling."""
        raise NotImplementedError
