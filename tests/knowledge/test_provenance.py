"""Kinds of outlet from the shipped table: by domain, by name, government rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import FilterError
from knowledge.models import Article
from knowledge.provenance import KINDS, load_table, parse_kind, with_kinds
from knowledge.settings import shipped

TABLE = load_table(shipped("config") / "outlets.toml")


@pytest.mark.parametrize(
    ("url", "name", "kind"),
    [
        ("https://english.news.cn/2025/x.htm", "", "state media"),
        (None, "Xinhua", "state media"),
        (None, "Global Times", "state media"),
        ("https://www.cgtn.com/a", "", "state media"),
        (None, "China Daily", "state media"),
        ("http://www.kcna.kp/en/article", "", "state media"),
        ("https://en.yna.co.kr/view/1", "", "wire"),
        (None, "Kyodo News", "wire"),
        ("https://www3.nhk.or.jp/nhkworld/en/news/1", "", "independent"),
        (None, "Reuters", "wire"),
        (None, "AP via Yahoo News", "wire"),
        (None, "TOKYO (Reuters)", "wire"),
        (None, "TAIPEI (dpa)", "wire"),
        (None, "AFP", "wire"),
        ("https://www.bernama.com/en/news.php", "", "state media"),
        (None, "ANI", "wire"),
        (None, "Press Trust of India", "wire"),
        ("https://en.antaranews.com/news/1", "", "state media"),
        ("https://www.pna.gov.ph/articles/1", "", "state media"),  # the table beats .gov
        ("https://www.channelnewsasia.com/asia/x", "", "independent"),
        (None, "South China Morning Post", "independent"),
        ("https://www.abc.net.au/news/1", "", "independent"),
        (None, "RNZ", "independent"),
        ("https://amti.csis.org/feed/", "", "think tank"),
        ("https://www.csis.org/analysis/x", "", "think tank"),
        (None, "Lowy Institute", "think tank"),
        ("https://www.aspistrategist.org.au/x", "", "think tank"),
        (None, "IISS", "think tank"),
        ("https://www.brookings.edu/articles/x", "", "think tank"),
        ("https://www.rand.org/pubs/x", "", "think tank"),
        ("https://www.state.gov/briefing", "", "government"),
        ("https://www.mofa.go.jp/press", "", "government"),
        ("https://www.mfa.gov.sg/x", "", "government"),
        ("https://www.defense.gov/News", "", "government"),
        (None, "Ministry of Foreign Affairs of Japan", "government"),
        (None, "Ministry of National Defense", "government"),
        ("https://blog.example.org/x", "Example Blog", "unknown"),
        (None, "ABC", "unknown"),  # ambiguous (ABC News in the US): not guessed
        ("not a url", "", "unknown"),
    ],
)
def test_kind_of(url: str | None, name: str, kind: str) -> None:
    assert TABLE.kind_of(url, name) == kind


def test_every_row_has_a_known_kind_and_domains_are_unique() -> None:
    domains = [d for o in TABLE.outlets for d in o.domains]
    assert len(domains) == len(set(domains))
    assert {o.kind for o in TABLE.outlets} <= set(KINDS)


def test_a_sources_set_kind_wins_and_its_address_is_the_fallback() -> None:
    from datetime import UTC, datetime

    def article(url: str | None, source: str, source_id: int | None) -> Article:
        return Article(1, url, "t", source, None, datetime.now(UTC), "s", source_id=source_id)

    sources = {
        1: ("think tank", "https://x.example/feed", "X"),
        2: (None, "https://amti.csis.org/feed/", ""),
    }
    kinds = [
        a.kind
        for a in with_kinds(
            [
                article("https://news.cn/a", "Xinhua", 1),  # set by an admin: it wins
                article("https://blog.example/a", "Some Blog", 2),  # the source's address
                article(None, "Nobody", None),
            ],
            TABLE,
            sources,
        )
    ]
    assert kinds == ["think tank", "think tank", "unknown"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("state media", "state media"),
        ("State-Media", "state media"),
        ("state_media", "state media"),
        ("THINKTANK", "think tank"),
        ("gov", "government"),
        ("wire", "wire"),
    ],
)
def test_parse_kind(text: str, kind: str) -> None:
    assert parse_kind(text) == kind


def test_parse_kind_refuses_with_the_list() -> None:
    with pytest.raises(FilterError, match="state media, government, wire"):
        parse_kind("tabloid")


def test_a_bad_table_names_its_row(tmp_path: Path) -> None:
    from knowledge.errors import SettingsError

    bad = tmp_path / "outlets.toml"
    bad.write_text('[[outlet]]\nname = "X"\nkind = "tabloid"\n', encoding="utf-8")
    with pytest.raises(SettingsError, match="outlet 1"):
        load_table(bad)
