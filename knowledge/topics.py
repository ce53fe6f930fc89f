"""Which stories belong to which topic: region topics (settings.topics) and the topics chats
follow, decided by meaning with the search's own relevance decision, the one answers use.

A topic's stories are those search judges relevant to the topic's query, asked about exactly
the stories in question (no page limit). Region topics are stored per story (story_topics) and
brought up to date lazily, only for stories stored since the last time; a changed query or
relevance decision re-classifies the topic. Followed topics are free text, judged over the
digest pool's stories once per pool (knowledge/composer.py).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection, Mapping

from knowledge.search import Searcher
from knowledge.store.protocols import StoreBackend
from knowledge.store.story_topics import TopicState


class TopicMatcher:
    """Stories by topic, through the Searcher's relevance decision."""

    def __init__(self, store: StoreBackend, searcher: Searcher, topics: Mapping[str, str]) -> None:
        self.store = store
        self.searcher = searcher
        self.topics = dict(topics)
        self._lock = threading.Lock()

    def decision(self) -> str:
        """A signature of the relevance decision in force (a change re-classifies)."""
        return hashlib.sha256(repr(self.searcher.tuning).encode()).hexdigest()[:16]

    def relevant(self, query: str, story_ids: Collection[int]) -> dict[int, float]:
        """Which of these stories search finds relevant to `query` (story id -> score)."""
        if not story_ids:
            return {}
        # the learned decision, judging exactly the stories asked about
        return self.searcher.relevant(query, story_ids)

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
                after = 0 if fresh or old is None else old.upto_id
                if after >= upto:
                    continue
                stories = self.store.story_topics.stories_between(after, upto)
                self.store.story_topics.save(
                    label,
                    TopicState(query=query, decision=decision, upto_id=upto),
                    self.relevant(query, stories),
                    replace=fresh,
                )
            return upto
