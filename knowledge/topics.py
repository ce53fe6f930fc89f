"""Which stories belong to which topic: region topics (settings.topics) and the topics chats
follow, decided by meaning with the search's own relevance decision, the one answers use.

A topic's stories are what search finds relevant to the topic's query, with no page limit.
Region topics are stored per story (story_topics) and brought up to date lazily, only for
stories stored since the last time; a changed query or relevance decision re-classifies the
topic. Followed topics are free text: their stories are kept in memory per topic, until the
index grows.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import replace

from knowledge.digests import topic_key
from knowledge.search import Searcher
from knowledge.store import Store
from knowledge.store.story_topics import TopicState

FOLLOWED_CACHE = 4096  # distinct followed topics kept in memory


class TopicMatcher:
    """Stories by topic, through the Searcher's relevance decision."""

    def __init__(self, store: Store, searcher: Searcher, topics: Mapping[str, str]) -> None:
        self.store = store
        self.searcher = searcher
        self.topics = dict(topics)
        self._lock = threading.Lock()
        self._followed: dict[str, tuple[int, dict[int, float]]] = {}

    def decision(self) -> str:
        """A signature of the relevance decision in force (a change re-classifies)."""
        return hashlib.sha256(repr(self.searcher.tuning).encode()).hexdigest()[:16]

    def relevant(self, query: str) -> dict[int, float]:
        """Every story search finds relevant to `query` (story id -> cosine similarity)."""
        self.searcher.sync()
        size = len(self.searcher.index)
        if not size:
            return {}
        vector = self.searcher.embedder.encode_one(query)
        tuning = replace(self.searcher.tuning, candidates=size)  # every story, not one page
        ranked = self.searcher.rank(query, vector, tuning=tuning)
        return {r.story_id: float(r.similarity) for r in ranked}

    def classify(self) -> int:
        """Bring the stored region topics up to date; returns the article id they cover."""
        with self._lock:
            self.searcher.sync()
            upto = self.searcher.index.max_id
            decision = self.decision()
            states = self.store.story_topics.state()
            if set(states) - set(self.topics):
                self.store.story_topics.keep_only(list(self.topics))
            for label, query in self.topics.items():
                old = states.get(label)
                fresh = old is None or old.query != query or old.decision != decision
                if not fresh and old is not None and old.upto_id >= upto:
                    continue
                scores = self.relevant(query)
                self.store.story_topics.save(
                    label,
                    TopicState(query=query, decision=decision, upto_id=upto),
                    scores,
                    replace=fresh,
                    after_id=0 if old is None else old.upto_id,
                )
            return upto

    def followed(self, topic: str) -> dict[int, float]:
        """The stories relevant to a followed topic (cached until the index grows)."""
        key = topic_key(topic)
        self.searcher.sync()
        upto = self.searcher.index.max_id
        cached = self._followed.get(key)
        if cached is not None and cached[0] == upto:
            return cached[1]
        scores = self.relevant(topic)
        if len(self._followed) >= FOLLOWED_CACHE:
            self._followed.pop(next(iter(self._followed)))
        self._followed[key] = (upto, scores)
        return scores
