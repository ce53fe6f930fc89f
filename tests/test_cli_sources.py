"""`brief sources …` and `brief ingest`, in-process, against a feed server on 127.0.0.1."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html import escape
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from knowledge.embedder import Embedder
from tests.support.pollserver import FeedServer

MINT = "feeds_netnewswire/files/livemint.xml"


@pytest.fixture
def server(shared_data: Path) -> Iterator[FeedServer]:
    with FeedServer() as feeds:
        feeds.serve_file("/mint.xml", shared_data / MINT)
        feeds.route("/down.xml", b"down", status=500, content_type="text/plain")
        yield feeds


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> CliRunner:
    monkeypatch.setenv("BRIEF_DB", str(tmp_path / "cli.db"))
    monkeypatch.setenv("BRIEF_ALLOW_PRIVATE_ADDRESSES", "true")  # the server is on loopback
    monkeypatch.setenv("BRIEF_FETCH_FULL_TEXT", "false")  # the feed links to real sites
    return CliRunner()


def listing(cli: CliRunner) -> list[dict[str, object]]:
    result = cli.invoke(app, ["sources", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def test_add_list_ingest_remove(cli: CliRunner, server: FeedServer) -> None:
    url = server.url("/mint.xml")
    added = cli.invoke(app, ["sources", "add", url, "--name", "Mint"])
    assert added.exit_code == 0, added.output
    assert added.stdout.splitlines() == ["added #1 Mint: RSS feed with 25 items", f"  {url}"]

    refused = cli.invoke(app, ["sources", "add", url])
    assert refused.exit_code == 1
    assert "already source #1" in refused.output
    bad = cli.invoke(app, ["sources", "add", "file:///etc/passwd"])
    assert bad.exit_code == 1 and "http" in bad.output
    missing = cli.invoke(app, ["sources", "add", server.url("/nothing.xml")])
    assert missing.exit_code == 1 and "404" in missing.output

    (row,) = listing(cli)
    assert row == row | {
        "id": 1,
        "url": url,
        "kind": "feed",
        "title": "Mint",
        "articles": 0,
        "error": None,
        "paused": False,
    }

    polled = cli.invoke(app, ["ingest"])
    assert polled.exit_code == 0, polled.output
    assert polled.stdout.splitlines() == [
        "#1 Mint: 25 items, 25 new: stored 25 (linked 0), duplicates 0, rejected 0",
        "polled 1: stored 25 (linked 0), duplicates 0, failed 0",
    ]
    (row,) = listing(cli)
    assert row["articles"] == 25 and row["last_success"] is not None
    assert cli.invoke(app, ["ingest", "--source", "1"]).stdout.startswith("#1 Mint: not modified")
    unknown = cli.invoke(app, ["ingest", "--source", "9"])
    assert unknown.exit_code == 1 and "no source #9" in unknown.output

    text = cli.invoke(app, ["sources", "list"])
    assert text.exit_code == 0 and "Mint" in text.stdout and "25" in text.stdout

    removed = cli.invoke(app, ["sources", "remove", "1"])
    assert removed.exit_code == 0
    assert removed.stdout.strip() == "removed #1 Mint (its 25 articles stay)"
    assert listing(cli) == []
    again = cli.invoke(app, ["sources", "remove", "1"])
    assert again.exit_code == 1 and "no source #1" in again.output


def test_a_failing_source_shows_its_error_in_the_listing(
    cli: CliRunner, server: FeedServer, tmp_path: Path
) -> None:
    opml = tmp_path / "one.opml"
    opml.write_text(
        f'<opml version="2.0"><body><outline text="Down" xmlUrl="{server.url("/down.xml")}"/>'
        "</body></opml>"
    )
    assert cli.invoke(app, ["sources", "import", str(opml)]).exit_code == 0
    polled = cli.invoke(app, ["ingest"])
    assert polled.exit_code == 1  # every source polled failed
    assert "#1 Down: failed:" in polled.stdout and "500" in polled.stdout
    (row,) = listing(cli)
    assert isinstance(row["error"], str) and "500" in row["error"]
    assert row["paused"] is False and row["error_streak"] == 1


def test_the_table_shows_each_url_whole_with_kind_last_poll_and_state(
    cli: CliRunner, server: FeedServer, tmp_path: Path
) -> None:
    """Two sources with the same name are told apart by their URLs, never cut to fit."""
    long_path = "/down.xml?" + "feed=asia-pacific-security-and-defence&" * 4
    server.route(long_path, b"down", status=500, content_type="text/plain")
    mint, down = server.url("/mint.xml"), server.url(long_path)
    assert cli.invoke(app, ["sources", "add", mint, "--name", "Mint"]).exit_code == 0
    opml = tmp_path / "one.opml"
    opml.write_text(
        f'<opml version="2.0"><body><outline text="Mint" xmlUrl="{escape(down)}"/></body></opml>'
    )
    assert cli.invoke(app, ["sources", "import", str(opml)]).exit_code == 0
    before = cli.invoke(app, ["sources", "list"]).stdout.splitlines()
    assert before[0].split() == [
        "id", "name", "url", "kind", "outlet", "articles", "last", "poll", "last", "success",
        "state",
    ]  # fmt: skip
    assert before[1].split()[:5] == ["1", "Mint", mint, "feed", "unknown"]
    assert before[2].split()[:5] == ["2", "Mint", down, "feed", "unknown"]
    assert before[1].count("never") == 2 and before[1].rstrip().endswith("not polled yet")
    cli.invoke(app, ["ingest"])
    after = cli.invoke(app, ["sources", "list"]).stdout.splitlines()
    (row,) = [line for line in after if down in line]
    assert "error:" in row and "500" in row and "(1 in a row)" in row
    (good,) = [line for line in after if mint in line]
    assert good.rstrip().endswith("ok") and "never" not in good


def test_opml_import_export_round_trip(
    cli: CliRunner, server: FeedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opml = tmp_path / "feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?>\n<opml version="1.0"><head><title>mine</title></head><body>'
        '<outline text="Asia"><outline text="Mint" type="rss" '
        f'xmlUrl="{server.url("/mint.xml")}"/>'
        '<outline text="Diplomat" type="rss" xmlUrl="https://thediplomat.com/feed/"/></outline>'
        '<outline text="No feed here" htmlUrl="https://example.org/"/>'
        '<outline text="Bad" xmlUrl="gopher://example.org/feed"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    imported = cli.invoke(app, ["sources", "import", str(opml)])
    assert imported.exit_code == 0, imported.output
    lines = imported.stdout.splitlines()
    assert lines[0] == "added 2, already there 0, refused 1"
    assert lines[1].startswith("  gopher://example.org/feed: ")
    assert server.hits("/mint.xml") == []  # nothing is fetched on import
    again = cli.invoke(app, ["sources", "import", str(opml)])
    assert again.stdout.startswith("added 0, already there 2, refused 1")

    exported = cli.invoke(app, ["sources", "export"])
    assert exported.exit_code == 0
    root = ET.fromstring(exported.stdout)
    outlines = [(o.get("title"), o.get("xmlUrl")) for o in root.iter("outline")]
    assert outlines == [
        ("Mint", server.url("/mint.xml")),
        ("Diplomat", "https://thediplomat.com/feed/"),
    ]

    # Round trip: the export imported into another database lists the same sources.
    copy = tmp_path / "export.opml"
    copy.write_text(exported.stdout, encoding="utf-8")
    monkeypatch.setenv("BRIEF_DB", str(tmp_path / "other.db"))
    assert cli.invoke(app, ["sources", "import", str(copy)]).stdout.startswith("added 2,")
    assert [(r["title"], r["url"]) for r in listing(cli)] == outlines


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<html><body>hi</body></html>", "not an OPML document"),
        (b"<opml><body><outline", "not valid XML"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><opml/>', "DTD"),
    ],
)
def test_import_refuses_what_is_not_opml(
    cli: CliRunner, tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "x.opml"
    path.write_bytes(content)
    result = cli.invoke(app, ["sources", "import", str(path)])
    assert result.exit_code == 1
    assert message in result.output
    assert listing(cli) == []
    assert cli.invoke(app, ["sources", "import", str(tmp_path / "none.opml")]).exit_code == 1
