"""Digests for many chats from one pool of recent stories, rebuilt only when the store grows."""

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
from knowledge.store.protocols import StoreBackend
from knowledge.topics import TopicMatcher

POOL_MAX_AGE = timedelta(hours=1)  # rebuild at least this often, so old stories drop out


class DigestComposer:
    """Composes chats' digests; thread-safe."""

    def __init__(
        self,
        store: StoreBackend,
        matcher: TopicMatcher,
        max_stories: int,
        with_kinds: Callable[[Iterable[Article]], list[Article]] = list,
    ) -> None:
        """`with_kinds` fills in the stories' kinds of outlet (shown as tags, and hidden by
        chats that hide a kind)."""
        self.store = store
        self.matcher = matcher
        self.max_stories = max_stories
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
        regional = bool(self.matcher.topics)
        if regional:
            upto = self.matcher.classify()
        else:
            self.matcher.searcher.sync()
            upto = self.matcher.searcher.index.max_id
        recent = self.store.story_topics.recent(
            now - MAX_LOOKBACK - LATE_ARRIVAL, upto, in_a_topic=regional
        )
        stories = [
            PoolStory(
                article=a,
                also=other_outlets(a, recent.coverage.get(a.id, [])),
                when=recent.effective[a.id],
            )
            for a in self.with_kinds(recent.articles)
        ]
        region = {label: recent.topics.get(label, {}) for label in self.matcher.topics}
        return DigestPool(stories, region, until_id=upto, built_at=now)

    def compose(
        self, sub: Subscription, now: datetime, chat_filter: ChatFilter | None = None
    ) -> Digest:
        """The chat's digest at `now` (nothing is recorded), without what `chat_filter`
        hides."""
        pool = self.pool(now)
        followed = (
            pool.followed(sub.topics, lambda topic: self.matcher.relevant(topic, pool.story_ids))
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
