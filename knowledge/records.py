"""Import records: read JSONL (gzip too), validate each line, and turn it into a draft."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, cast

from knowledge.errors import ImportRecordError
from knowledge.ingest import Draft
from knowledge.text import normalise_whitespace
from knowledge.urls import canonical_url, host_of, is_web_url

MAX_TITLE_CHARS = 500
MAX_TEXT_CHARS = 200_000


def read_jsonl(path: Path) -> Iterator[tuple[int, object]]:
    """Yield (line number, decoded object) or (line number, error message) for each
    non-blank line; a .gz file is read through gzip."""
    opener = gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")  # noqa: SIM115
    with cast(IO[bytes], opener) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    number,
                    ImportRecordError(
                        f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
                    ),
                )
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ImportRecordError(f"malformed JSON: {exc.msg} at column {exc.colno}")


def parse_published(value: object) -> datetime | None:
    """An ISO 8601 date or datetime, as UTC; None when absent."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ImportRecordError("published must be an ISO 8601 string")
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ImportRecordError(f"published is not an ISO 8601 date: {value[:40]!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def draft_from_record(record: object) -> Draft:
    """Validate one decoded record; raises ImportRecordError naming what is wrong."""
    if isinstance(record, ImportRecordError):
        raise record
    if not isinstance(record, dict):
        raise ImportRecordError(f"expected a JSON object, got {type(record).__name__}")
    title = record.get("title")
    text = record.get("text")
    if not isinstance(title, str) or not title.strip():
        raise ImportRecordError("missing title")
    if not isinstance(text, str) or not text.strip():
        raise ImportRecordError("missing text")
    url = record.get("url")
    if url in (None, ""):
        url = None
    elif not isinstance(url, str) or not is_web_url(url):
        raise ImportRecordError(f"url is not an http(s) URL: {str(url)[:80]!r}")
    else:
        url = canonical_url(url)
    source = record.get("source")
    if source is not None and not isinstance(source, str):
        raise ImportRecordError("source must be a string")
    source = (source or "").strip() or (host_of(url) if url else "") or "unknown"
    return Draft(
        url=url,
        title=" ".join(title.split())[:MAX_TITLE_CHARS],
        text=normalise_whitespace(text)[:MAX_TEXT_CHARS],
        source=source[:100],
        published=parse_published(record.get("published")),
    )
