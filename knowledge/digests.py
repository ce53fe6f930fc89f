"""What goes in a chat's digest and when its next one is due. Pure: no database, no model.

Schedule arithmetic works on aware datetimes through zoneinfo, so a chat's 07:00 stays 07:00
local across daylight-saving changes: a time that a change skips (02:30 on the night clocks
jump forward) falls at the same distance after the jump (03:30), and a time that happens twice
(clocks going back) counts once, the first time.

Composition works on a `DigestPool`: the stories of the last days with their region topics, held
as numpy arrays sorted best first, so that thousands of chats' digests come from one pool without
a query per chat. A story is "new" for a chat when it reached the store after that chat's last
digest (an id watermark: no story is lost or repeated, however long an import takes to commit)
and was published no earlier than a day before it (an old item that reaches the store late is
not news); the first digest takes the last 24 hours.
"""

from __future__ import annotations

import difflib
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import numpy as np
import numpy.typing as npt

from knowledge.errors import SubscriptionError
from knowledge.models import Article, Coverage, Digest, DigestSection, Hit, Subscription

TIME_EXPECTED = "HH:MM, e.g. 07:30"
FIRST_DIGEST_SPAN = timedelta(hours=24)  # the first digest: what is new in the last day
LATE_ARRIVAL = timedelta(hours=24)  # how old (published) a story reaching the store late may be
MAX_LOOKBACK = timedelta(days=7)  # a chat that got nothing for longer still gets one week
MAX_TOPIC_CHARS = 100
MAX_TOPICS = 10  # followed topics per chat
NO_REGION_LABEL = "Latest"  # the one section when no region topics are configured

_TIME = re.compile(r"^\s*(\d{1,2})\s*[:.h]\s*(\d{2})\s*$")


# --- parsing what people type -------------------------------------------------------------
def parse_time(text: str) -> time:
    """A local time of day from "HH:MM" (also "7:30", "07.30"); SubscriptionError otherwise."""
    match = _TIME.match(text or "")
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise SubscriptionError(f"“{text}” is not a time of day. Expected {TIME_EXPECTED}.")


@lru_cache(maxsize=1)
def _zones() -> dict[str, str]:
    """Every IANA name, keyed by its case-folded form."""
    return {name.casefold(): name for name in available_timezones()}


def closest_timezones(name: str, n: int = 3) -> list[str]:
    """The IANA names nearest to `name` (by spelling; a bare city matches Area/City)."""
    zones = _zones()
    wanted = name.strip().casefold().replace(" ", "_")
    if not wanted:
        return []
    by_city: dict[str, str] = {}
    for key, canonical in zones.items():
        by_city.setdefault(key.rsplit("/", 1)[-1], canonical)
    found: list[str] = []
    for key in difflib.get_close_matches(wanted, list(zones), n=n, cutoff=0.6):
        found.append(zones[key])
    city = wanted.rsplit("/", 1)[-1]
    for key in difflib.get_close_matches(city, list(by_city), n=n, cutoff=0.6):
        if by_city[key] not in found:
            found.append(by_city[key])
    return found[:n]


def check_timezone(name: str) -> str:
    """The canonical IANA name for `name` (any case); SubscriptionError listing the closest."""
    zones = _zones()
    key = (name or "").strip().casefold().replace(" ", "_")
    if key in zones:
        canonical = zones[key]
        try:
            ZoneInfo(canonical)
        except (ZoneInfoNotFoundError, ValueError):  # listed but without data: treat as unknown
            pass
        else:
            return canonical
    near = closest_timezones(name or "")
    hint = f" Did you mean {', '.join(near)}?" if near else ""
    raise SubscriptionError(
        f"“{name}” is not a timezone I know.{hint} Use an Area/City name such as Asia/Manila."
    )


def clean_topic(text: str) -> str:
    """A followed topic as shown: whitespace collapsed; SubscriptionError if empty or long."""
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise SubscriptionError("Name a topic to follow, for example “Scarborough Shoal”.")
    if len(cleaned) > MAX_TOPIC_CHARS:
        raise SubscriptionError(
            f"That topic is {len(cleaned):,} characters long; please keep it under "
            f"{MAX_TOPIC_CHARS} (a few words work best)."
        )
    return cleaned


def topic_key(text: str) -> str:
    """The key two spellings of one topic share ("AUKUS  subs" and "aukus subs")."""
    return " ".join((text or "").split()).casefold()


# --- schedule arithmetic ------------------------------------------------------------------
def _zone(sub: Subscription) -> ZoneInfo:
    return ZoneInfo(sub.timezone)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def instant_on(sub: Subscription, day: date) -> datetime:
    """The UTC instant of the chat's time on its local `day`."""
    local = datetime.combine(day, sub.at, tzinfo=_zone(sub))  # fold=0: the first, or pre-gap
    return local.astimezone(UTC)


def local_date(sub: Subscription, when: datetime) -> date:
    """The chat's own date at `when`."""
    return _aware(when).astimezone(_zone(sub)).date()


def next_run(sub: Subscription, now: datetime) -> datetime:
    """The first instant after `now` at which the chat's digest is due (aware, UTC)."""
    now = _aware(now)
    today = local_date(sub, now)
    for offset in range(-1, 3):
        when = instant_on(sub, today + timedelta(days=offset))
        if when > now:
            return when
    raise AssertionError("unreachable: a day always has the chat's time")  # pragma: no cover


def last_run(sub: Subscription, now: datetime) -> datetime:
    """The latest instant at or before `now` at which the chat's digest was due (UTC)."""
    now = _aware(now)
    today = local_date(sub, now)
    for offset in range(1, -3, -1):
        when = instant_on(sub, today + timedelta(days=offset))
        if when <= now:
            return when
    raise AssertionError("unreachable: a day always has the chat's time")  # pragma: no cover


def due_on_start(
    sub: Subscription, now: datetime, catch_up: timedelta, last_claim_date: date | None
) -> date | None:
    """The local date whose digest to send now, when the bot was down at the chat's time and
    is still within `catch_up` of it; None when nothing is owed (or it is too late)."""
    due = last_run(sub, now)
    if _aware(now) - due > catch_up:
        return None
    if sub.created_at is not None and _aware(sub.created_at) > due:
        return None  # subscribed after that time: the first digest comes at the next one
    day = local_date(sub, due)
    if last_claim_date is not None and last_claim_date >= day:
        return None
    return day


def digest_since(sub: Subscription, now: datetime) -> datetime:
    """The cutoff of what is new: the last digest sent, or a day ago the first time."""
    now = _aware(now)
    if sub.last_sent_at is None:
        return now - FIRST_DIGEST_SPAN
    return max(_aware(sub.last_sent_at), now - MAX_LOOKBACK)


# --- composition --------------------------------------------------------------------------
def other_outlets(article: Article, copies: Sequence[Coverage]) -> tuple[Coverage, ...]:
    """Other outlets' copies of a story, one per outlet, not the article's own outlet."""
    out: list[Coverage] = []
    names = {article.source.casefold()}
    for copy in copies:
        if copy.source.casefold() not in names:
            names.add(copy.source.casefold())
            out.append(copy)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class PoolStory:
    """A story that may go into digests: its first article, the other outlets, its times."""

    article: Article
    also: tuple[Coverage, ...]
    when: datetime  # published (never after it was stored), else stored


Scores = Mapping[int, float]  # story id -> relevance to a topic (present only when relevant)
FloatArray = npt.NDArray[np.float64]
_MISSING = -np.inf


class DigestPool:
    """Stories of a time window, sorted best first (most outlets, then newest), with their
    region topics; composes any chat's digest with a few array operations.

    `region` maps each region topic label to the stories relevant to it. With no region topics
    at all, every story is in one section."""

    def __init__(
        self,
        stories: Sequence[PoolStory],
        region: Mapping[str, Scores],
        until_id: int,
        built_at: datetime,
    ) -> None:
        self.until_id = until_id
        self.built_at = _aware(built_at)
        labels = list(region) or [NO_REGION_LABEL]
        everything = not region
        if not everything:
            stories = [s for s in stories if any(s.article.id in r for r in region.values())]
        ordered = sorted(
            stories, key=lambda s: (-(1 + len(s.also)), -s.when.timestamp(), -s.article.id)
        )
        self.stories: tuple[PoolStory, ...] = tuple(ordered)
        self.labels: tuple[str, ...] = tuple(labels)
        self.ids = np.array([s.article.id for s in ordered], dtype=np.int64)
        self.times = np.array([s.when.timestamp() for s in ordered], dtype=np.float64)
        self.story_ids: tuple[int, ...] = tuple(self.ids.tolist())
        self._position = {story_id: i for i, story_id in enumerate(self.story_ids)}
        if everything:
            self.region = np.zeros((len(ordered), 1), dtype=np.float64)
        else:
            self.region = self.scores_of([region[label] for label in labels])
        self.region_primary = (
            np.argmax(self.region, axis=1) if len(ordered) else np.zeros(0, dtype=np.int64)
        )
        self._columns: dict[str, npt.NDArray[np.float64]] = {}
        self._columns_lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.stories)

    def scores_of(self, topics: Sequence[Scores]) -> npt.NDArray[np.float64]:
        """An (n stories × topics) array of relevance scores, -inf where not relevant."""
        out = np.full((len(self.stories), len(topics)), _MISSING, dtype=np.float64)
        for column, scores in enumerate(topics):
            for story_id, score in scores.items():
                row = self._position.get(story_id)
                if row is not None:
                    out[row, column] = score
        return out

    def followed(
        self, topics: Sequence[str], scores_of_topic: Callable[[str], Scores]
    ) -> npt.NDArray[np.float64]:
        """scores_of for a chat's followed topics, each topic's column computed once per pool."""
        columns = []
        for topic in topics:
            key = topic_key(topic)
            column = self._columns.get(key)
            if column is None:
                with self._columns_lock:  # one search per topic, however many threads ask
                    column = self._columns.get(key)
                    if column is None:
                        column = self.scores_of([scores_of_topic(topic)])[:, 0]
                        self._columns[key] = column
            columns.append(column)
        if not columns:
            return np.zeros((len(self.stories), 0), dtype=np.float64)
        return np.column_stack(columns)

    def new_mask(self, after_id: int | None, not_before: datetime) -> npt.NDArray[np.bool_]:
        """Which stories are new for a chat: stored after its watermark (when it has one) and
        published after `not_before`."""
        mask = self.times > _aware(not_before).timestamp()
        if after_id is not None:
            mask &= self.ids > after_id
        return mask

    def compose(
        self,
        sub: Subscription,
        now: datetime,
        max_stories: int,
        followed: npt.NDArray[np.float64] | None = None,
        hidden: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None = None,
    ) -> Digest:
        """The chat's digest at `now`. `followed` holds the scores of the chat's followed
        topics (columns in the order of sub.topics); None or no columns means everything.
        `hidden`: which stories the chat's mutes hide, and which its hidden kinds hide (one
        flag per story of the pool); they are left out and counted."""
        now = _aware(now)
        since = digest_since(sub, now)
        if sub.last_sent_at is None or sub.sent_through_id is None:
            mask = self.new_mask(None, since)
        else:
            mask = self.new_mask(sub.sent_through_id, since - LATE_ARRIVAL)
        if followed is not None and followed.shape[1]:
            labels: Sequence[str] = sub.topics
            mask &= np.isfinite(followed).any(axis=1)
            primary = np.argmax(followed, axis=1)
            scores = followed
        else:
            labels = self.labels
            primary = self.region_primary
            scores = self.region
        muted = kind_hidden = 0
        if hidden is not None:
            by_mute, by_kind = hidden
            kind_hidden = int(np.count_nonzero(mask & by_kind))
            muted = int(np.count_nonzero(mask & by_mute & ~by_kind))
            mask &= ~(by_mute | by_kind)
        chosen = np.flatnonzero(mask)  # already in digest order
        chosen_topics = primary[chosen]
        # sections in the order of their best story
        present, first = np.unique(chosen_topics, return_index=True)
        order = present[np.argsort(first)].tolist()
        shown = _balanced(chosen, chosen_topics, max_stories, order)
        total = np.bincount(chosen_topics, minlength=len(labels)).tolist()
        shown_topics = primary[shown]
        similarities = scores[shown, shown_topics].tolist()
        by_topic: dict[int, list[Hit]] = {topic: [] for topic in order}
        for row, topic, similarity in zip(
            shown.tolist(), shown_topics.tolist(), similarities, strict=True
        ):
            by_topic[topic].append(self._hit(row, similarity))
        sections = tuple(
            DigestSection(
                topic=labels[topic],
                hits=tuple(by_topic[topic]),
                more=total[topic] - len(by_topic[topic]),
            )
            for topic in order
        )
        return Digest(
            chat_id=sub.chat_id,
            local_date=local_date(sub, now),
            since=since,
            sections=sections,
            until=now,
            until_id=self.until_id,
            muted=muted,
            kind_hidden=kind_hidden,
        )

    def _hit(self, row: int, similarity: float) -> Hit:
        story = self.stories[row]
        return Hit(
            article=story.article,
            score=float(1 + len(story.also)),  # outlets carrying the story
            similarity=round(similarity, 4) if math.isfinite(similarity) else 0.0,
            also=story.also,
        )


def _balanced(
    chosen: npt.NDArray[np.int64],
    topics: npt.NDArray[np.int64],
    limit: int,
    order: Sequence[int],
) -> npt.NDArray[np.int64]:
    """The `limit` stories to show, taken a round at a time across the sections in `order`
    (each one's best, then each one's second best, ...) so one busy topic cannot fill the
    digest; in digest order."""
    if len(chosen) <= limit:
        return chosen
    heads = [np.flatnonzero(topics == topic)[:limit].tolist() for topic in order]
    picked: list[int] = []
    for turn in range(limit):
        for head in heads:
            if turn < len(head):
                picked.append(head[turn])
                if len(picked) == limit:
                    return chosen[np.sort(np.array(picked, dtype=np.int64))]
    return chosen[np.sort(np.array(picked, dtype=np.int64))]  # pragma: no cover
