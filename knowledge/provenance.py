"""Who is speaking: the kind of an outlet (state media, government, wire, independent, think
tank, unknown), from the shipped table config/outlets.toml. Pure: no database.

An article's kind, best evidence first: the kind an admin set on its source; the table by the
article's own link (its host or a parent domain: english.news.cn is Xinhua); by its outlet's
name ("AP via Yahoo News" is AP, "TOKYO (Reuters)" is Reuters); by its source's address and
name; a government domain (.gov, .gov.XX, .go.XX, .mil, .gob.XX) or name ("Ministry of ...");
else unknown.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from knowledge.errors import FilterError, SettingsError
from knowledge.models import Article, Source

STATE_MEDIA = "state media"
GOVERNMENT = "government"
WIRE = "wire"
INDEPENDENT = "independent"
THINK_TANK = "think tank"
UNKNOWN = "unknown"
KINDS: tuple[str, ...] = (STATE_MEDIA, GOVERNMENT, WIRE, INDEPENDENT, THINK_TANK, UNKNOWN)

# What people type for a kind: "state-media", "State_Media", "statemedia", "gov", "thinktank".
_SPELLINGS = {
    **{kind.replace(" ", ""): kind for kind in KINDS},
    "state": STATE_MEDIA,
    "gov": GOVERNMENT,
    "govt": GOVERNMENT,
    "official": GOVERNMENT,
    "agency": WIRE,
    "newsagency": WIRE,
    "wires": WIRE,
    "think": THINK_TANK,
    "thinktanks": THINK_TANK,
    "none": UNKNOWN,
}

_GOV_LABELS = frozenset({"gov", "go", "mil", "gob", "govt", "gouv"})
_GOV_NAMES = re.compile(
    r"\b(ministry of|department of|government of|prime minister'?s office|white house|"
    r"state council|foreign ministry|defen[cs]e ministry|armed forces of)\b"
)
_VIA = re.compile(r"\s+via\s+.*$", re.IGNORECASE)
_DATELINE = re.compile(r"^[^()]*\(([^()]+)\)\s*$")  # "TOKYO (Reuters)" -> "Reuters"


def parse_kind(text: str) -> str:
    """The kind `text` names, in any case and with spaces, hyphens or underscores; FilterError
    listing the kinds otherwise."""
    key = re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", text or "").casefold())
    kind = _SPELLINGS.get(key)
    if kind is None:
        raise FilterError(
            f"“{(text or '').strip()[:40]}” is not a kind of outlet; use one of: "
            + ", ".join(KINDS)
            + "."
        )
    return kind


def name_key(name: str) -> str:
    """The key two spellings of an outlet's name share: case-folded, quotes straightened,
    spaces collapsed, a leading "the" dropped."""
    text = unicodedata.normalize("NFKC", name or "").casefold().replace("’", "'")
    text = " ".join(text.split()).strip(" .,:;-–—")
    return text.removeprefix("the ")


def host_key(url: str | None) -> str:
    """The host of `url`, lower-case, without "www." (empty when there is none)."""
    if not url:
        return ""
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.lower().rstrip(".").removeprefix("www.")


def is_government_host(host: str) -> bool:
    """True for government domains: state.gov, mofa.go.jp, mfa.gov.sg, pacom.mil, gob.mx."""
    labels = host.split(".")
    if len(labels) < 2:
        return False
    if labels[-1] in ("gov", "mil"):
        return True
    # a country-code domain with a government second level: .gov.sg, .go.jp, .mil.ph
    return len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _GOV_LABELS


def outlet_names(name: str) -> list[str]:
    """The names to look up for an outlet as credited: itself, without "via ...", the agency
    of a dateline."""
    names = [name]
    bare = _VIA.sub("", name).strip()
    if bare and bare != name:
        names.append(bare)
    dateline = _DATELINE.match(bare or name)
    if dateline:
        names.append(dateline.group(1))
    return names


@dataclass(frozen=True, slots=True)
class Outlet:
    """One row of the table."""

    name: str
    kind: str
    domains: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()


class OutletTable:
    """The outlets by domain and by name; answers the kind of an outlet."""

    def __init__(self, outlets: Iterable[Outlet]) -> None:
        self.outlets = tuple(outlets)
        self._domains: dict[str, Outlet] = {}
        self._names: dict[str, Outlet] = {}
        for outlet in self.outlets:
            for domain in outlet.domains:
                self._domains[domain.lower().removeprefix("www.")] = outlet
            for name in (outlet.name, *outlet.aliases):
                self._names[name_key(name)] = outlet

    def by_host(self, host: str) -> Outlet | None:
        """The outlet whose domain is `host` or its nearest parent domain."""
        labels = host.split(".") if host else []
        for start in range(len(labels) - 1):
            found = self._domains.get(".".join(labels[start:]))
            if found is not None:
                return found
        return None

    def by_name(self, name: str) -> Outlet | None:
        """The outlet called `name` (see outlet_names for the spellings tried)."""
        for candidate in outlet_names(name or ""):
            found = self._names.get(name_key(candidate))
            if found is not None:
                return found
        return None

    def kind_of(self, url: str | None, name: str = "") -> str:
        """The kind of an outlet known by a link and a name; UNKNOWN when nothing says."""
        host = host_key(url)
        outlet = self.by_host(host) or self.by_name(name)
        if outlet is not None:
            return outlet.kind
        if (host and is_government_host(host)) or _GOV_NAMES.search(name_key(name)):
            return GOVERNMENT
        return UNKNOWN

    def article_kind(
        self,
        url: str | None,
        name: str,
        source_kind: str | None = None,
        source_url: str | None = None,
        source_name: str = "",
    ) -> str:
        """An article's kind: its source's set kind, else the article's own link and outlet
        name, else its source's address and name."""
        if source_kind:
            return source_kind
        kind = self.kind_of(url, name)
        if kind == UNKNOWN and (source_url or source_name):
            kind = self.kind_of(source_url, source_name)
        return kind


def load_table(path: Path) -> OutletTable:
    """The table in a TOML file of [[outlet]] rows; SettingsError naming a bad row."""
    with path.open("rb") as handle:
        rows = tomllib.load(handle).get("outlet", [])
    outlets = []
    for number, row in enumerate(rows, start=1):
        kind = row.get("kind", "")
        if kind not in KINDS or not row.get("name"):
            raise SettingsError(f"{path}: outlet {number} needs a name and a kind in {KINDS}")
        outlets.append(
            Outlet(
                name=row["name"],
                kind=kind,
                domains=tuple(row.get("domains", ())),
                aliases=tuple(row.get("aliases", ())),
            )
        )
    return OutletTable(outlets)


@lru_cache(maxsize=4)
def shipped_table(path: Path) -> OutletTable:
    """load_table, read once per file."""
    return load_table(path)


SourceOutlets = dict[int, tuple[str | None, str, str]]  # id -> (kind set, URL, title)


def with_kinds(
    articles: Iterable[Article], table: OutletTable, sources: SourceOutlets
) -> list[Article]:
    """`articles` with their outlet's kind filled in (see OutletTable.article_kind)."""
    out = []
    for article in articles:
        known = sources.get(article.source_id) if article.source_id is not None else None
        set_kind, source_url, source_name = known or (None, None, "")
        kind = table.article_kind(article.url, article.source, set_kind, source_url, source_name)
        out.append(article if kind == article.kind else dataclasses.replace(article, kind=kind))
    return out


def source_kind(source: Source, table: OutletTable) -> Source:
    """`source` with the kind it is shown with: the one an admin set, else the table's."""
    if source.outlet_kind_set:
        return source
    kind = table.kind_of(source.url, source.title)
    return dataclasses.replace(source, outlet_kind=kind)
