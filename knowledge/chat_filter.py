"""What a chat does not want to see: its mute words and the kinds of outlet it hides, applied
to stories (pure: the service reads the chat's filter and passes it here)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledge.models import Article
from knowledge.mutes import MuteMatcher

MUTED = "muted"
KIND_HIDDEN = "kind"


@dataclass(frozen=True, slots=True)
class ChatFilter:
    """One chat's mutes and hidden kinds."""

    mutes: MuteMatcher = field(default_factory=lambda: MuteMatcher.of(()))
    hidden_kinds: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.mutes) or bool(self.hidden_kinds)

    def verdict(self, article: Article) -> str | None:
        """Why `article` is hidden (KIND_HIDDEN before MUTED), or None when it is shown."""
        if article.kind in self.hidden_kinds:
            return KIND_HIDDEN
        if self.mutes.matches_any((article.title, article.summary, article.source)):
            return MUTED
        return None


@dataclass(frozen=True, slots=True)
class Filtered:
    """What a filter kept, and how many it hid for each reason."""

    kept: list[int]  # positions in the input, in order
    muted: int = 0
    kind_hidden: int = 0


def apply(chat_filter: ChatFilter, articles: Iterable[Article | None]) -> Filtered:
    """Positions of the articles `chat_filter` keeps (a None, an article not found, is kept:
    the caller drops it), with counts of the hidden."""
    kept: list[int] = []
    muted = kind_hidden = 0
    for position, article in enumerate(articles):
        reason = chat_filter.verdict(article) if article is not None and chat_filter else None
        if reason == MUTED:
            muted += 1
        elif reason == KIND_HIDDEN:
            kind_hidden += 1
        else:
            kept.append(position)
    return Filtered(kept, muted, kind_hidden)
