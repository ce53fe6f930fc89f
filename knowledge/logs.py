"""The one logging setup, for every process (the CLI, the bot, the terminal chat, the ingest
worker): a handler on the root logger, text or JSON lines (BRIEF_LOG_FORMAT=json, one object a
line for log collectors), and the libraries' chatter silenced at their loggers:

- httpx logs every request line at INFO, and the bot's lines carry its token;
- apscheduler logs "Running job …" / "executed successfully" every minute;
- sentence_transformers and transformers log model loading.
Their warnings still show.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
QUIET = ("httpx", "apscheduler", "sentence_transformers", "transformers")
MARK = "_brief_handler"  # set on the handler this module installed


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message (+ exc)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: str | int = "INFO",
    fmt: str = "text",
    *,
    file: Path | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Log at `level` in `fmt` ("text" or "json") to `file` (appended) or `stream` (stderr).
    Replaces the handler an earlier call installed; a process where others installed a
    handler already gets no second stderr one. The handler installed."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, MARK, False)]:
        root.removeHandler(old)
        old.close()
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    root.setLevel(level)
    if file is None and stream is None and root.handlers:
        # someone else logs already (pytest's capture, an embedding program): as
        # logging.basicConfig does, add no second stderr handler
        return logging.NullHandler()
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    setattr(handler, MARK, True)
    root.addHandler(handler)
    return handler
