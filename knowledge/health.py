"""Is this process ready to serve? The checks behind /readyz, pure apart from `check_ready`.

Three checks, each with its numbers:
- store: the database answers a fresh connection (`Store.ping`);
- polling (only when this process polls and active, unpaused sources exist): the last poll
  that succeeded for any source is no older than `ready_poll_max_age_minutes`. The age runs from
  that poll or from this process's start, whichever is later: a bot restarted after a long stop
  is not failed before its first poll had a chance;
- digests: no subscribed chat's digest is overdue by more than `ready_digest_max_lag_minutes`
  (its time passed and no claim was made for that local date).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from knowledge.digests import last_run, local_date
from knowledge.models import Source, Subscription


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness check: its verdict, a sentence, and its numbers."""

    ok: bool
    detail: str
    values: Mapping[str, object] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        """{"ok": …, "detail": …, **values}."""
        return {"ok": self.ok, "detail": self.detail, **self.values}


@dataclass(frozen=True, slots=True)
class Readiness:
    """Every check; ready when all pass."""

    checks: Mapping[str, Check]

    @property
    def ready(self) -> bool:
        """True when every check passed."""
        return all(check.ok for check in self.checks.values())

    def as_json(self) -> dict[str, object]:
        """The /readyz body."""
        return {
            "status": "ready" if self.ready else "unready",
            "checks": {name: check.as_json() for name, check in self.checks.items()},
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def poll_check(
    sources: Iterable[Source], now: datetime, started: datetime, max_age: timedelta
) -> Check:
    """The polling check over the active sources (paused ones are the admins' to resume)."""
    polled = [s for s in sources if not s.paused]
    if not polled:
        return Check(True, "no active sources to poll", {"sources": 0})
    successes = [s.last_success for s in polled if s.last_success is not None]
    last_good = max(successes, default=None)
    since = max(last_good, started) if last_good else started
    age = max(now - since, timedelta(0))
    values = {
        "sources": len(polled),
        "last_good_poll": _iso(last_good),
        "age_seconds": int(age.total_seconds()),
        "max_age_seconds": int(max_age.total_seconds()),
    }
    if age > max_age:
        minutes = int(age.total_seconds() // 60)
        return Check(False, f"no poll has succeeded for {minutes} min", values)
    return Check(True, "polling", values)


def digest_check(
    subscriptions: Iterable[Subscription],
    last_claims: Mapping[int, date],
    now: datetime,
    max_lag: timedelta,
) -> Check:
    """The digest check: how overdue the most overdue chat's digest is."""
    lag, late, count = timedelta(0), 0, 0
    for sub in subscriptions:
        count += 1
        due = last_run(sub, now)
        if sub.created_at is not None and sub.created_at > due:
            continue  # subscribed after that time: its first digest is the next one
        claimed = last_claims.get(sub.chat_id)
        if claimed is not None and claimed >= local_date(sub, due):
            continue
        overdue = now - due
        lag = max(lag, overdue)
        late += overdue > max_lag
    values = {
        "subscriptions": count,
        "lag_seconds": int(lag.total_seconds()),
        "max_lag_seconds": int(max_lag.total_seconds()),
        "late_chats": late,
    }
    if late:
        minutes = int(lag.total_seconds() // 60)
        return Check(False, f"{late} digests overdue, the latest by {minutes} min", values)
    return Check(True, "on time", values)


def unknown(reason: str) -> Check:
    """A check that could not run (the store it reads is unreachable)."""
    return Check(False, f"not checked: {reason}")


__all__ = ["Check", "Readiness", "digest_check", "poll_check", "unknown"]
