"""OPML: the subscription lists feed readers import and export."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from knowledge.errors import SourceError
from knowledge.models import Source

MAX_OPML_BYTES = 5_000_000


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One outline that names a feed."""

    url: str
    title: str


def read_opml(data: bytes) -> list[OpmlFeed]:
    """Every outline with an xmlUrl, nested ones too, in document order (each URL once).
    Raises SourceError when the data is not OPML."""
    if len(data) > MAX_OPML_BYTES:
        raise SourceError(f"the OPML file is over {MAX_OPML_BYTES // 1_000_000} MB")
    if b"<!DOCTYPE" in data[:2000].upper() or b"<!ENTITY" in data.upper():
        raise SourceError("the OPML file declares a DTD or entities, which are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SourceError(f"not valid XML ({exc})") from None
    if root.tag.rsplit("}", 1)[-1].lower() != "opml":
        raise SourceError(f"not an OPML document (its root element is <{root.tag}>)")
    found: dict[str, OpmlFeed] = {}
    for outline in root.iter():
        if outline.tag.rsplit("}", 1)[-1] != "outline":
            continue
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url:
            continue
        title = (outline.get("title") or outline.get("text") or "").strip()
        found.setdefault(url, OpmlFeed(url=url, title=" ".join(title.split())[:200]))
    return list(found.values())


def write_opml(sources: Iterable[Source], when: datetime | None = None) -> str:
    """An OPML 2.0 document listing the sources (feeds as type="rss" with xmlUrl; article
    pages as type="link" with url)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = "indopac-brief sources"
    ET.SubElement(head, "dateCreated").text = format_datetime(when or datetime.now(UTC))
    body = ET.SubElement(root, "body")
    for source in sources:
        name = source.name
        if source.kind == "feed":
            ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=source.url)
        else:
            ET.SubElement(body, "outline", type="link", text=name, title=name, url=source.url)
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )
