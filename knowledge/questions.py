"""What a question asks for: one topic, several places to cover each ("Papua New Guinea, Fiji and
the Solomon Islands", "Indonesia and Malaysia"), or a relation between places ("Japan and South
Korea relations"). Pure: the place names come from the region taxonomy (knowledge/regions.py).

A list is found by its separators (commas, "and", "&", "/", ";") when every piece names a place;
a relation by a relation word ("relations", "ties", "between", "talks", ...) with two or more
places named. Anything else is one topic, searched whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from knowledge.text import query_tokens, query_words

# Words that make a question about how places stand with each other.
RELATION_WORDS = frozenset(
    {
        "relation", "relations", "relationship", "relationships", "ties", "tie", "between",
        "talks", "tension", "tensions", "dispute", "disputes", "rivalry", "cooperation",
        "alliance", "versus", "vs", "row", "feud", "spat", "diplomacy", "diplomatic",
    }
)  # fmt: skip
_SEPARATOR = re.compile(r"\s*(?:,|;|/|&|\+|\band\b|\bor\b)\s*", re.IGNORECASE)
MAX_PARTS = 6


@dataclass(frozen=True, slots=True)
class Question:
    """The parts to cover (each searched alone; empty: the question as a whole) and whether
    the question is about a relation between them (stories naming every part come first)."""

    text: str
    parts: tuple[str, ...] = ()
    relation: bool = False


class Places:
    """Finds place names in text (case-insensitive, whole words, longest name first)."""

    def __init__(self, names: Iterable[str]) -> None:
        alternatives = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
        body = "|".join(re.escape(n).replace(r"\ ", r"[\s\-]+") for n in alternatives)
        self._rx = re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE) if body else None

    def find(self, text: str) -> list[str]:
        """The place names in `text`, in order, each once (as written)."""
        if self._rx is None:
            return []
        seen: list[str] = []
        for match in self._rx.finditer(text):
            name = " ".join(match.group(0).split())
            if name.casefold() not in {s.casefold() for s in seen}:
                seen.append(name)
        return seen

    def named_in(self, text: str, name: str) -> bool:
        """Whether `text` names this place (whole words, any case)."""
        return bool(_whole_words([name]).search(text))


def _whole_words(names: Iterable[str]) -> re.Pattern[str]:
    """Any of the names as whole words, any case; a space also matches a hyphen."""
    body = "|".join(re.escape(n).replace(r"\ ", r"[\s\-]+") for n in names)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def parse(text: str, places: Places) -> Question:
    """Split a question into the parts it asks to cover (see the module docstring)."""
    pieces = [p.strip() for p in _SEPARATOR.split(text) if p and p.strip()]
    pieces = [p for p in pieces if query_words(p)]
    words = set(query_tokens(text))
    named = places.find(text)
    if len(named) >= 2 and words & RELATION_WORDS:
        return Question(text, tuple(named[:MAX_PARTS]), relation=True)
    if 2 <= len(pieces) <= MAX_PARTS and all(places.find(p) for p in pieces):
        return Question(text, tuple(pieces))
    return Question(text)
