"""Which stories belong to a topic a chat follows.

A followed topic that names a digest section (its title, e.g. "ASEAN", or its key) is a region:
its stories are those whose stored region labels name that section (knowledge/regions.py). Any
other followed topic is free text, judged by meaning with the search's own relevance decision,
the one answers use, over the digest pool's stories once per pool (knowledge/composer.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from knowledge.models import Article
from knowledge.regions import Taxonomy
from knowledge.search import Searcher


def primary_section(article: Article) -> str | None:
    """The section a story is shown in: its strongest labelled one, else its strongest."""
    return article.sections[0] if article.sections else article.section


def in_section(article: Article, key: str) -> bool:
    """True when the story's labels name the section (or it is its strongest)."""
    return key in article.sections or primary_section(article) == key


class TopicMatcher:
    """Stories by followed topic: by label for a region, by relevance for free text."""

    def __init__(self, searcher: Searcher, sections: Taxonomy) -> None:
        self.searcher = searcher
        self.sections = sections

    def region_of(self, topic: str) -> str | None:
        """The section key a followed topic names (its title or key, any case), or None."""
        key = self.sections.key_of_title(topic)
        if key is None and topic.strip().casefold() in self.sections.by_key:
            key = topic.strip().casefold()
        return key

    def relevant(self, query: str, story_ids: Collection[int]) -> dict[int, float]:
        """Which of these stories search finds relevant to `query` (story id -> score)."""
        if not story_ids:
            return {}
        # the learned decision, judging exactly the stories asked about
        return self.searcher.relevant(query, story_ids)

    def followed(self, topic: str, stories: Iterable[Article]) -> dict[int, float]:
        """The stories of a followed topic (story id -> score, higher first)."""
        stories = list(stories)
        key = self.region_of(topic)
        if key is None:
            return self.relevant(topic, [a.id for a in stories])
        return {
            a.id: (2.0 if primary_section(a) == key else 1.0) + (a.regional or 0.0)
            for a in stories
            if in_section(a, key)
        }
