"""Digests for many chats from one pool of recent stories, rebuilt only when the store grows.

A story's section is read from its stored region labels (knowledge/regions.py): the regional
decision keeps it in or out of digests, and it is shown once, in its strongest section."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

import numpy as np

from knowledge.chat_filter import KIND_HIDDEN, MUTED, ChatFilter
from knowledge.digests import (
    LATE_ARRIVAL,
    MAX_LOOKBACK,
    DigestPool,
    PoolStory,
    other_outlets,
)
from knowledge.models import Article, Digest, Subscription
from knowledge.regions_labeller import RegionLabeller
from knowledge.store.protocols import StoreBackend
from knowledge.topics import TopicMatcher, primary_section

POOL_MAX_AGE = timedelta(hours=1)  # rebuild at least this often, so old stories drop out


class DigestComposer:
    """Composes chats' digests; thread-safe. `regional` False: no sections, every story."""

    def __init__(
        self,
        store: StoreBackend,
        matcher: TopicMatcher,
        labeller: RegionLabeller,
        max_stories: int,
        *,
        regional: bool = True,
        with_kinds: Callable[[Iterable[Article]], list[Article]] = list,
    ) -> None:
        """`with_kinds` fills in the stories' kinds of outlet (shown as tags, and hidden by
        chats that hide a kind)."""
        self.store = store
        self.matcher = matcher
        self.labeller = labeller
        self.max_stories = max_stories
        self.regional = regional
        self.with_kinds = with_kinds
        self._lock = threading.Lock()
        self._pool: DigestPool | None = None

    def pool(self, now: datetime) -> DigestPool:
        """The pool of stories that may be new to some chat at `now`."""
        with self._lock:
            current = self._pool
            newest = self.store.articles.max_id()
            if (
                current is not None
                and current.until_id >= newest
                and abs(now - current.built_at) < POOL_MAX_AGE
            ):
                return current
            self._pool = self._build(now)
            return self._pool

    def _build(self, now: datetime) -> DigestPool:
        if not self.store.read_only:
            self.labeller.backfill()  # rows stored unlabelled (before the migration)
        searcher = self.matcher.searcher
        searcher.sync()
        upto = searcher.index.max_id
        recent = self.store.brief_stories.recent(
            now - MAX_LOOKBACK - LATE_ARRIVAL, upto, for_brief=self.regional
        )
        stories = [
            PoolStory(
                article=a,
                also=other_outlets(a, recent.coverage.get(a.id, [])),
                when=recent.effective[a.id],
            )
            for a in self.with_kinds(recent.articles)
        ]
        region: dict[str, dict[int, float]] = {}
        if self.regional:
            sections = self.matcher.sections
            region = {s.title: {} for s in sections.sections}
            for a in recent.articles:
                key = primary_section(a)
                if key in sections.by_key:  # one section per story: its strongest
                    region[sections.title(key)][a.id] = 1.0 + (a.regional or 0.0)
        return DigestPool(stories, region, until_id=upto, built_at=now)

    def compose(
        self, sub: Subscription, now: datetime, chat_filter: ChatFilter | None = None
    ) -> Digest:
        """The chat's digest at `now` (nothing is recorded), without what `chat_filter`
        hides."""
        pool = self.pool(now)
        followed = (
            pool.followed(
                sub.topics,
                lambda topic: self.matcher.followed(topic, (s.article for s in pool.stories)),
            )
            if sub.topics
            else None
        )
        hidden = None
        if chat_filter:
            verdicts = [chat_filter.verdict(s.article) for s in pool.stories]
            hidden = (
                np.array([v == MUTED for v in verdicts], dtype=np.bool_),
                np.array([v == KIND_HIDDEN for v in verdicts], dtype=np.bool_),
            )
        return pool.compose(sub, now, self.max_stories, followed, hidden)
