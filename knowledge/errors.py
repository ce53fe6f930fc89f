"""Domain errors. Everything the core raises on purpose derives from BriefError:

BriefError
 ├── SettingsError        a setting is missing or invalid (stops the program at start)
 ├── QueryError           a user's query cannot be answered as given (empty, too long)
 ├── ImportRecordError    one import record is invalid (the import goes on without it)
 ├── StoreError           the database cannot be opened or written
 │    ├── StoreReadOnlyError   the database file or its folder is read-only
 │    └── StoreCorruptError    the file is not a usable SQLite database
 └── SourceError          a source cannot be added, fetched or parsed
      └── AddressNotAllowedError  the URL points at a private or local address
"""

from __future__ import annotations


class BriefError(Exception):
    """Base of every error the core raises on purpose; its message is fit for a user."""


class SettingsError(BriefError):
    """A setting is missing or invalid."""


class QueryError(BriefError):
    """A query cannot be answered as given."""


class ImportRecordError(BriefError):
    """One import record is invalid."""


class StoreError(BriefError):
    """The database cannot be opened or written."""


class StoreReadOnlyError(StoreError):
    """The database file or its folder is read-only."""


class StoreCorruptError(StoreError):
    """The file is not a usable SQLite database."""


class SourceError(BriefError):
    """A source cannot be added, fetched or parsed."""


class AddressNotAllowedError(SourceError):
    """The URL resolves to an address the fetcher refuses (private, loopback, link-local)."""
