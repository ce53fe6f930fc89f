"""Tests for knowledge.text: whitespace, sentence splitting, summaries, content hashes."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.text import content_hash, normalise_whitespace, split_sentences, summarise

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_747b853ffa16b7de.txt"
SEED_HEADINGS = {
    "U.S.-China Defense Dialogue",
    "China's Response and Regional Positions",
    "Strengthening U.S.-India Defense Partnership",
    "Regional Security Context",
    "Conclusion: Strategic Positioning in the Indo-Pacific",
}


@pytest.fixture(scope="module")
def seed() -> tuple[str, str]:
    """The seed article as (title, body): the first line is the title."""
    title, body = SEED.read_text(encoding="utf-8").split("\n", 1)
    return title, body


# --- normalise_whitespace -----------------------------------------------------------------------


def test_normalise_whitespace_collapses_runs_and_keeps_paragraphs() -> None:
    text = "  One\t\ttwo   three.  \r\n\r\n\n  Four\u00a0 five. \nSix.  "
    assert normalise_whitespace(text) == "One two three.\n\nFour five.\nSix."


def test_normalise_whitespace_empty() -> None:
    assert normalise_whitespace(" \n\t\n ") == ""


# --- split_sentences ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. Navy sailed on. The U.K. and the U.N. agreed.",
            ["The U.S. Navy sailed on.", "The U.K. and the U.N. agreed."],
        ),
        (
            "Adm. Dong met Gen. Smith and Lt. Col. Jones. Sgt. Lee stayed.",
            ["Adm. Dong met Gen. Smith and Lt. Col. Jones.", "Sgt. Lee stayed."],
        ),
        (
            "Rep. Kim and Sen. Park met Gov. Newsom. They talked.",
            ["Rep. Kim and Sen. Park met Gov. Newsom.", "They talked."],
        ),
        (
            "Mr. and Mrs. Smith met Ms. Lee. Dr. Wu and Prof. Tan arrived.",
            ["Mr. and Mrs. Smith met Ms. Lee.", "Dr. Wu and Prof. Tan arrived."],
        ),
        (
            "They met in St. Petersburg. It rained.",
            ["They met in St. Petersburg.", "It rained."],
        ),
        (
            "Talks began on Jan. 5 and ended on Feb. 9. A deal came in Sept. 2024. "
            "Dec. 25 was calm.",
            [
                "Talks began on Jan. 5 and ended on Feb. 9.",
                "A deal came in Sept. 2024.",
                "Dec. 25 was calm.",
            ],
        ),
        (
            "Mar. 3, Apr. 4, Jun. 6, Jul. 7, Aug. 8, Oct. 10 and Nov. 11 were picked. Done.",
            ["Mar. 3, Apr. 4, Jun. 6, Jul. 7, Aug. 8, Oct. 10 and Nov. 11 were picked.", "Done."],
        ),
        (
            "She is ranked No. 2 in the world. He said no. Then he left.",
            ["She is ranked No. 2 in the world.", "He said no.", "Then he left."],
        ),
        (
            "The vote closed at 5 p.m. on Tuesday. It opened at 9 a.m. The queue was long.",
            [
                "The vote closed at 5 p.m. on Tuesday.",
                "It opened at 9 a.m.",
                "The queue was long.",
            ],
        ),
        (
            "Allies, e.g. Japan, agreed. Others, i.e. the rest, did not. It was Japan vs. China.",
            [
                "Allies, e.g. Japan, agreed.",
                "Others, i.e. the rest, did not.",
                "It was Japan vs. China.",
            ],
        ),
        (
            "Apple Inc. said profits rose. Acme Corp. Chief Executive Jane Doe quit. "
            "Smith & Co. Ltd. was sold. Shares of Sony Corp. The firm fell.",
            [
                "Apple Inc. said profits rose.",
                "Acme Corp. Chief Executive Jane Doe quit.",
                "Smith & Co. Ltd. was sold.",
                "Shares of Sony Corp.",
                "The firm fell.",
            ],
        ),
        (
            "Kim J. Un met the press. J. R. R. Tolkien wrote it.",
            ["Kim J. Un met the press.", "J. R. R. Tolkien wrote it."],
        ),
        (
            "Troops were sent to the U.S. The move angered Beijing.",
            ["Troops were sent to the U.S.", "The move angered Beijing."],
        ),
    ],
)
def test_split_sentences_abbreviations(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_split_sentences_decimals() -> None:
    text = "Growth was 3.5 percent. The deal was worth $1.2 billion. Inflation hit 0.75%."
    assert split_sentences(text) == [
        "Growth was 3.5 percent.",
        "The deal was worth $1.2 billion.",
        "Inflation hit 0.75%.",
    ]


def test_split_sentences_ellipses() -> None:
    text = "He paused... then left. I waited… Nothing came. Then more... And more."
    assert split_sentences(text) == [
        "He paused... then left.",
        "I waited…",
        "Nothing came.",
        "Then more...",
        "And more.",
    ]


def test_split_sentences_quotes() -> None:
    text = (
        'He said "no." Then he left. '
        "Washington will 'stoutly defend' its interests. "
        "“We are ready,” she said. “Are you?” Nobody answered."
    )
    assert split_sentences(text) == [
        'He said "no."',
        "Then he left.",
        "Washington will 'stoutly defend' its interests.",
        "“We are ready,” she said.",
        "“Are you?”",
        "Nobody answered.",
    ]


def test_split_sentences_quote_followed_by_lowercase_stays_together() -> None:
    assert split_sentences('"No way!" he said. "Why?" she asked.') == [
        '"No way!" he said.',
        '"Why?" she asked.',
    ]


def test_split_sentences_question_and_exclamation() -> None:
    assert split_sentences("Is it over? Yes! It is.") == ["Is it over?", "Yes!", "It is."]


def test_split_sentences_headings_and_paragraphs() -> None:
    text = (
        "Intro sentence here.\n\n"
        "U.S.-China Defense Dialogue\nThe meeting took place. It went well.\n"
        "China's Response\nBeijing was calm."
    )
    assert split_sentences(text) == [
        "Intro sentence here.",
        "U.S.-China Defense Dialogue",
        "The meeting took place.",
        "It went well.",
        "China's Response",
        "Beijing was calm.",
    ]


def test_split_sentences_rejoins_hard_wrapped_lines() -> None:
    text = "The minister said the talks\nwere constructive. Both sides\nagreed to meet again."
    assert split_sentences(text) == [
        "The minister said the talks were constructive.",
        "Both sides agreed to meet again.",
    ]


def test_split_sentences_empty_and_stripped() -> None:
    assert split_sentences("") == []
    assert split_sentences("   \n\n  ") == []
    sentences = split_sentences("  One here.   Two here.  \n\n\n  Three here. ")
    assert sentences == ["One here.", "Two here.", "Three here."]
    assert all(s and s == s.strip() for s in sentences)


def test_split_sentences_seed_keeps_abbreviations_and_headings(seed: tuple[str, str]) -> None:
    _, body = seed
    sentences = split_sentences(body)
    assert set(sentences) >= SEED_HEADINGS
    # No unit ends on an abbreviation that the splitter should have kept inside a sentence.
    assert not any(s.endswith(("U.", "U.S.", "Adm.", "Dr.", "Mr.")) for s in sentences)
    assert any(
        s.startswith("U.S. Defense Secretary Pete Hegseth has delivered") for s in sentences
    )
    heading = sentences.index("U.S.-China Defense Dialogue")
    assert sentences[heading + 1].startswith("The meeting between Secretary Hegseth")


# --- summarise ----------------------------------------------------------------------------------


def test_summarise_seed_article(seed: tuple[str, str]) -> None:
    title, body = seed
    summary = summarise(body, title)
    sentences = split_sentences(summary)
    article = split_sentences(body)
    assert 2 <= len(sentences) <= 4
    assert len(summary) <= 600
    assert all(s in article for s in sentences)  # extractive: whole sentences, unchanged
    positions = [article.index(s) for s in sentences]
    assert positions == sorted(positions)  # article order
    assert not set(sentences) & SEED_HEADINGS
    assert "U.S. Defense Secretary" in summary  # "U.S." was not split off its sentence
    assert summary == " ".join(sentences)  # joined with single spaces


def test_summarise_seed_with_title_line_included(seed: tuple[str, str]) -> None:
    title, body = seed
    summary = summarise(f"{title}\n{body}", title)
    assert title not in summary
    assert 2 <= len(split_sentences(summary)) <= 4
    assert len(summary) <= 600


def test_summarise_does_not_split_adm() -> None:
    text = (
        "Adm. Dong Jun met the visiting delegation in Beijing on Friday morning. "
        "The talks covered maritime security in the South China Sea and beyond. "
        "Adm. Dong Jun said the navy would continue its patrols near the islands. "
        "Officials from both sides described the meeting as frank and constructive. "
        "A further round of talks is expected early next year in Washington."
    )
    article = split_sentences(text)
    assert len(article) == 5
    summary = summarise(text, "Chinese admiral meets delegation")
    assert 2 <= len(split_sentences(summary)) <= 4
    for sentence in split_sentences(summary):
        assert sentence in article
        assert not sentence.endswith("Adm.")


@pytest.mark.parametrize("max_chars", [600, 300, 200])
def test_summarise_length_cap(seed: tuple[str, str], max_chars: int) -> None:
    title, body = seed
    summary = summarise(body, title, max_chars=max_chars)
    assert 0 < len(summary) <= max_chars
    article = split_sentences(body)
    if not summary.endswith("…"):
        assert all(s in article for s in split_sentences(summary))


def test_summarise_cuts_an_overlong_first_sentence_at_a_word() -> None:
    sentence = "The minister " + "and the delegation " * 40 + "agreed."
    summary = summarise(sentence, max_chars=100)
    assert len(summary) <= 100
    assert summary.endswith("…")
    assert sentence.startswith(summary[:-1])
    assert summary[:-1] == summary[:-1].rstrip()
    assert sentence[len(summary) - 1] == " "  # cut at a word boundary


def test_summarise_max_sentences() -> None:
    text = " ".join(
        f"Sentence number {n} talks about the regional security summit." for n in range(9)
    )
    assert len(split_sentences(summarise(text, max_sentences=2))) <= 2
    assert len(split_sentences(summarise(text, max_sentences=1))) == 1


def test_summarise_article_order_and_choice() -> None:
    text = (
        "Japan and the Philippines signed a defence pact in Manila on Monday.\n\n"
        "The weather in Manila was hot and humid throughout the day.\n\n"
        "The defence pact lets Japanese troops train in the Philippines.\n\n"
        "Lunch was served at noon in the palace garden for the guests.\n\n"
        "China criticised the pact and warned Japan against a military build-up in Asia.\n\n"
        "Traffic was heavy near the palace before the ceremony began."
    )
    summary = summarise(text, "Japan and Philippines sign defence pact", max_sentences=3)
    sentences = split_sentences(summary)
    article = split_sentences(text)
    positions = [article.index(s) for s in sentences]
    assert positions == sorted(positions)
    assert sentences[0] == article[0]
    assert "weather" not in summary and "Lunch" not in summary


def test_summarise_skips_headings_bylines_and_questions() -> None:
    text = (
        "By Jane Smith, BBC News\n\n"
        "Tokyo Talks Update\n"
        "Japan's prime minister met South Korea's president in Tokyo on Tuesday.\n"
        "What does this mean for the region?\n"
        "The leaders agreed to resume regular shuttle diplomacy between the capitals.\n"
        "They also pledged closer cooperation on North Korea's missile launches.\n"
        "Trade ministers will follow up with talks on export controls next month."
    )
    summary = summarise(text, "Japan and South Korea leaders meet in Tokyo")
    assert "Jane Smith" not in summary
    assert "Tokyo Talks Update" not in summary
    assert "?" not in summary
    assert 2 <= len(split_sentences(summary)) <= 4


def test_summarise_is_deterministic(seed: tuple[str, str]) -> None:
    title, body = seed
    assert len({summarise(body, title) for _ in range(5)}) == 1


def test_summarise_short_text_passthrough() -> None:
    one = "Japan's central bank raised interest rates for the first time in 17 years."
    two = one + " The yen rose against the dollar."
    assert summarise(one) == one
    assert summarise(two) == two
    assert summarise("  " + two.replace(" ", "   ") + "\n") == two


def test_summarise_short_text_trimmed_to_budget() -> None:
    two = "Japan's central bank raised interest rates. The yen rose sharply against the dollar."
    assert summarise(two, max_chars=50) == "Japan's central bank raised interest rates."


def test_summarise_empty() -> None:
    assert summarise("") == ""
    assert summarise("   \n\n ") == ""
    assert summarise("Some text here.", max_chars=0) == ""


# --- content_hash -------------------------------------------------------------------------------


def test_content_hash_format_and_stability() -> None:
    digest = content_hash("Hello, world!")
    assert len(digest) == 32
    assert all(c in "0123456789abcdef" for c in digest)
    # sha256("hello world")[:32]: fixed across runs and platforms.
    assert digest == "b94d27b9934d3e08a52e52d7da7dabfa"


def test_content_hash_equal_for_trivial_reformatting() -> None:
    base = content_hash("China and the U.S. held talks in Kuala Lumpur.")
    assert content_hash("china and the u.s. held talks in kuala lumpur") == base
    assert content_hash("  CHINA and the U.S.\n\nheld talks\tin Kuala   Lumpur.  ") == base
    assert content_hash("China -- and the U S held talks in Kuala Lumpur!!!") == base


def test_content_hash_differs_for_different_text() -> None:
    assert content_hash("China held talks.") != content_hash("Japan held talks.")
    assert content_hash("") != content_hash("a")


def test_summarise_returns_two_sentences_even_when_all_are_near_duplicates() -> None:
    text = (
        "Japan and China held talks on trade in Tokyo today. "
        "Japan and China held talks on trade in Tokyo on Monday. "
        "Japan and China held trade talks in Tokyo today again."
    )
    assert len(split_sentences(summarise(text))) == 2
