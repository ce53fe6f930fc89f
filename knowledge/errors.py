"""Domain errors. Everything the core raises on purpose derives from BriefError:

BriefError
 ├── SettingsError        a setting is missing or invalid (stops the program at start)
 ├── QueryError           a user's query cannot be answered as given (empty, too long)
 ├── ImportRecordError    one import record is invalid (the import goes on without it)
 ├── SubscriptionError    a digest subscription cannot be made or changed as asked
 │                        (a bad time, an unknown timezone, no subscription, a bad topic)
 ├── FilterError          a chat's mute or hidden kind, or a source's kind, cannot be set as
 │                        asked (too long, a pattern, too many, not a kind, not muted)
 ├── StoreError           the database cannot be opened or written
 │    ├── StoreReadOnlyError   the database file or its folder is read-only
 │    └── StoreCorruptError    the file is not a usable SQLite database
 ├── IngestWorkerError    the polling process died or was stopped (the next poll restarts it)
 └── SourceError          a source cannot be added, fetched or parsed
      ├── AddressNotAllowedError  not http(s), or a private or local address (permanent)
      ├── FetchError             the fetch failed
      │    ├── FetchTimeout           connect, read or overall deadline passed
      │    ├── HTTPStatusError        the server answered 4xx/5xx (.status; Retry-After kept)
      │    ├── TooLarge               the body (or its decompressed form) passed the cap
      │    └── TooManyRedirects       a redirect loop or more hops than allowed
      └── NotAFeedError          the bytes are neither a feed nor an article page
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


class IngestWorkerError(BriefError):
    """The process that polls sources for the bot died or was stopped mid-request."""


class SourceError(BriefError):
    """A source cannot be added, fetched or parsed.

    `permanent` says trying again will not help; `retry_after_s` is the server's Retry-After."""

    permanent: bool = False
    retry_after_s: float | None = None


class AddressNotAllowedError(SourceError):
    """The URL resolves to an address the fetcher refuses (private, loopback, link-local)."""

    permanent = True


class FetchError(SourceError):
    """A fetch failed; the message says why in words fit for an admin."""

    def __init__(
        self, message: str, retry_after_s: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.permanent = permanent


class FetchTimeout(FetchError):  # noqa: N818 (the contract's name)
    """The server did not connect or answer in time."""


class HTTPStatusError(FetchError):
    """The server answered with an error status."""

    def __init__(
        self,
        message: str,
        status: int,
        retry_after_s: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s, permanent=permanent)
        self.status = status


class TooLarge(FetchError):  # noqa: N818 (the contract's name)
    """The body, or what it decompresses to, is larger than the cap."""


class TooManyRedirects(FetchError):  # noqa: N818 (the contract's name)
    """A redirect loop, or more redirects than allowed."""


class NotAFeedError(SourceError):
    """The content is not a feed (an HTML page, empty, or unreadable)."""


class SubscriptionError(BriefError):
    """A digest subscription cannot be made or changed as asked."""


class FilterError(BriefError):
    """A mute word, a hidden kind or a source's kind cannot be set as asked."""
