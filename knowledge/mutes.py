"""Mute words: what a chat does not want to read. Pure: no database.

A mute is a word or a phrase, never a pattern: it is matched as literal text (regex
metacharacters are plain characters, so "C++" mutes C++), case-insensitively with full Unicode
case folding ("STRASSE" mutes "Straße"), as a whole word or phrase: "Xi" mutes "Xi's visit"
but not "Xinhua". In scripts written without spaces between words (Chinese, Japanese, Thai,
Lao, Khmer, Myanmar) and in Korean, whose particles attach to the word ("북한은"), a mute
matches inside a run of those letters; everywhere else it must not touch another letter, mark,
digit or underscore. Spaces in a phrase match any run of whitespace. A story is muted when its
title, summary or outlet name holds a mute.

Input that looks like a pattern (".*", "(xi|li)", "\\bxi\\b", "[abc]") is refused with a clear
message rather than silently matched as text nobody writes; so are mutes without a letter or
digit, and mutes over the length limit.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import regex

from knowledge.errors import FilterError

# A letter, mark, digit or underscore of a script that separates its words with spaces: a mute
# must not touch one. Han, kana, Hangul and the South-East Asian scripts are left out, so a
# mute in them matches inside a run of text.
_WORD = (
    r"[[\p{L}\p{M}\p{N}_]--[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
    r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]]"
)
# What only a pattern would hold: an escape (\b, \w, \d), ".*" ".+" ".?", a group option "(?",
# a character class "[...]", a repeat "{2}" "{1,3}", an alternation "|", a wildcard "*", or an
# anchor at either end.
_PATTERN_LIKE = regex.compile(
    r"\\[A-Za-z0-9]|\.[*+?]|\(\?|\[[^\]]*\]|\{\d+(,\d*)?\}|\||\*|^\^", regex.V1
)
_LETTER_OR_DIGIT = regex.compile(r"[\p{L}\p{N}]", regex.V1)
_QUOTES = "\"'“”‘’«»「」『』"
# Control characters and bidirectional embeddings, overrides and isolates: never part of a word
_INVISIBLE = regex.compile(r"[\p{Cc}\u202a-\u202e\u2066-\u2069]", regex.V1)


def clean_mute(text: str, max_chars: int) -> str:
    """A mute as stored and shown: NFKC, whitespace collapsed, surrounding quotes dropped;
    FilterError for an empty, too long or pattern-like mute, or one without a letter or
    digit."""
    cleaned = " ".join(_INVISIBLE.sub(" ", unicodedata.normalize("NFKC", text or "")).split())
    if len(cleaned) > 2 and cleaned[0] in _QUOTES and cleaned[-1] in _QUOTES:
        cleaned = cleaned[1:-1].strip()
    if not cleaned:
        raise FilterError("Name a word or phrase to mute, for example /mute cricket.")
    if len(cleaned) > max_chars:
        raise FilterError(
            f"That mute is {len(cleaned):,} characters long; a mute is a word or a short "
            f"phrase of at most {max_chars} characters."
        )
    if _PATTERN_LIKE.search(cleaned):
        words = regex.findall(r"[\p{L}\p{N}][\p{L}\p{M}\p{N}'’\-]*", cleaned, regex.V1)[:3]
        hint = ", then ".join(f"/mute {w}" for w in dict.fromkeys(words))
        raise FilterError(
            f"“{cleaned}” looks like a pattern. Mutes are plain words or phrases, matched "
            "whole and ignoring case, never patterns or wildcards"
            + (f"; send one per word, e.g. {hint}." if hint else ".")
        )
    if not _LETTER_OR_DIGIT.search(cleaned):
        raise FilterError(
            f"“{cleaned}” has no letters or digits; a mute is a word or phrase, for example "
            "/mute cricket."
        )
    return cleaned


def mute_key(text: str) -> str:
    """The key two spellings of one mute share ("South  China Sea" and "south china sea")."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


_WORD_CHAR = regex.compile(_WORD, regex.V1)


@lru_cache(maxsize=16_384)  # the stories of a digest pool are folded once for every chat
def fold(text: str) -> str:
    """What mutes are looked for in: NFKC, full case folding, whitespace runs as one space."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _is_word(char: str) -> bool:
    return _WORD_CHAR.match(char) is not None


@dataclass(frozen=True, slots=True)
class MuteMatcher:
    """One chat's mutes, folded, looked for as literal text with whole-word checks (a plain
    substring search, so no input can make it slow)."""

    mutes: tuple[str, ...]
    folded: tuple[str, ...] = ()

    @classmethod
    def of(cls, mutes: Iterable[str]) -> MuteMatcher:
        """The matcher for `mutes` (as clean_mute returns them)."""
        kept = tuple(dict.fromkeys(m for m in mutes if m.strip()))
        folded = tuple(dict.fromkeys(f for f in map(fold, kept) if f))
        return cls(kept, folded)

    def __bool__(self) -> bool:
        return bool(self.folded)

    def matches(self, text: str) -> bool:
        """True when `text` holds one of the mutes as a whole word or phrase."""
        if not self.folded or not text:
            return False
        return self._search(fold(text))

    def matches_any(self, texts: Sequence[str]) -> bool:
        """True when one of `texts` (a title, a summary, an outlet) holds a mute; searched as
        one text, joined by NUL (which no mute holds and which ends a word)."""
        if not self.folded:
            return False
        return self._search("\x00".join(fold(t) for t in texts if t))

    def _search(self, haystack: str) -> bool:
        for needle in self.folded:
            start = haystack.find(needle)
            while start >= 0:
                end = start + len(needle)
                before = start == 0 or not _is_word(haystack[start - 1])
                after = end == len(haystack) or not _is_word(haystack[end])
                if before and after:
                    return True
                start = haystack.find(needle, start + 1)
        return False
