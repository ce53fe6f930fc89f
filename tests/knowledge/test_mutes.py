"""Mute words: literal, whole-word, case-insensitive, Unicode-aware matching; refusals."""

from __future__ import annotations

import time

import pytest

from knowledge.errors import FilterError
from knowledge.mutes import MuteMatcher, clean_mute, mute_key


@pytest.mark.parametrize(
    ("mute", "text", "hit"),
    [
        ("Xi", "Xi's visit to Hanoi", True),
        ("Xi", "Xinhua reports", False),
        ("xi", "President XI arrives", True),
        ("south china sea", "Clash in the South\nChina  Sea", True),
        ("south china sea", "South China Seafood fair", False),
        ("C++", "a C++ compiler", True),
        ("C++", "a C compiler", False),
        ("U.S.", "the U.S. Navy", True),
        ("U.S.", "the US Navy", False),  # the dots are literal, not "any character"
        ("a.b", "axb", False),
        ("strasse", "Hauptstraße", False),  # whole words only
        ("strasse", "Straße", True),  # full case folding
        ("台湾", "台湾海峡的紧张局势", True),  # no spaces in Chinese: inside a run
        ("北朝鮮", "北朝鮮がミサイル", True),
        ("북한", "북한은 미사일을 발사했다", True),  # Korean particles attach to the word
        ("ｃｒｉｃｋｅｔ", "cricket", True),  # fullwidth forms, NFKC
        ("café", "Cafe\u0301 owners", True),  # a combining accent is the same letter
        ("modi", "Modiji said", False),
    ],
)
def test_matching(mute: str, text: str, hit: bool) -> None:
    assert MuteMatcher.of([clean_mute(mute, 60)]).matches(text) is hit


def test_an_empty_matcher_matches_nothing() -> None:
    matcher = MuteMatcher.of([])
    assert not matcher and not matcher.matches("anything")


@pytest.mark.parametrize(
    "mute", [".*", "(a|b)", r"\bxi\b", "[abc]", "x{2,3}", "foo*", "a|b", "^xi", "(?i)xi"]
)
def test_pattern_like_mutes_are_refused(mute: str) -> None:
    with pytest.raises(FilterError, match="looks like a pattern"):
        clean_mute(mute, 60)


@pytest.mark.parametrize("mute", ["C++", "U.S.", "AT&T", "F-35", "Yahoo!", "(AUKUS)", "S&P 500"])
def test_metacharacters_are_text(mute: str) -> None:
    assert clean_mute(mute, 60) == mute


def test_limits_and_empties() -> None:
    with pytest.raises(FilterError, match="10,000 characters long"):
        clean_mute("a" * 10_000, 60)
    with pytest.raises(FilterError, match="Name a word"):
        clean_mute("   ", 60)
    with pytest.raises(FilterError, match="no letters or digits"):
        clean_mute("---", 60)
    assert clean_mute("  “South   China Sea” ", 60) == "South China Sea"
    assert clean_mute("\u202ecricket\x00\x1b", 60) == "cricket"  # no controls, no overrides
    assert mute_key("South  China SEA") == mute_key("south china sea")


def test_many_mutes_over_long_text_stay_linear() -> None:
    """No backtracking blow-up: mutes are literals (a correctness check, not a benchmark)."""
    matcher = MuteMatcher.of([f"word{n} " + "a" * 40 for n in range(50)])
    text = ("a" * 41 + " ") * 2_000
    started = time.perf_counter()
    assert not matcher.matches(text)
    assert time.perf_counter() - started < 5  # seconds; a catastrophic pattern would not end


def test_matches_any_does_not_join_words_across_texts() -> None:
    matcher = MuteMatcher.of(["china sea"])
    assert not matcher.matches_any(["South China", "Sea breeze"])
    assert matcher.matches_any(["Title", "in the South China Sea", "Outlet"])
