"""The `brief` command line, in-process (the session's model is shared with it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from knowledge.embedder import Embedder

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> CliRunner:
    monkeypatch.setenv("BRIEF_DB", str(tmp_path / "cli.db"))
    return CliRunner()


def test_seed_then_ask_answers_with_the_seed_article(cli: CliRunner) -> None:
    first = cli.invoke(app, ["seed"])
    assert first.exit_code == 0, first.output
    assert "seeds: imported 1, already there 0" in first.output
    assert "imported 0, already there 1" in cli.invoke(app, ["seed"]).output

    text = cli.invoke(app, ["ask", "Taiwan reunification"])
    assert text.exit_code == 0
    assert "1. U.S. Defense Secretary Vows to 'Stoutly Defend'" in text.output
    assert "Seed article · 2025-10-31 · no link" in text.output

    answer = cli.invoke(app, ["ask", "Taiwan reunification", "-k", "3", "--json"])
    items = json.loads(answer.output)
    assert [
        set(item) >= {"url", "title", "source", "published", "summary", "score"} for item in items
    ] == [True]
    assert items[0]["published"] == "2025-10-31T00:00:00+00:00"
    assert items[0]["summary"].startswith("U.S. Defense Secretary Pete Hegseth")

    nothing = cli.invoke(app, ["ask", "Antarctic krill fishing quotas"])
    assert nothing.output.strip() == "Nothing on “Antarctic krill fishing quotas” yet."
    assert cli.invoke(app, ["ask", "Antarctic krill fishing quotas", "--json"]).output == "[]\n"


def test_bad_queries_exit_with_a_message(cli: CliRunner) -> None:
    empty = cli.invoke(app, ["ask", "  "])
    assert empty.exit_code == 1
    assert "Send a topic" in empty.output
    long = cli.invoke(app, ["ask", "x" * 10_000])
    assert long.exit_code == 1
    assert "10,000 characters long" in long.output


def test_import_reports_counts_and_rejected_lines(cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    good = {
        "title": "Quad leaders meet",
        "text": "The Quad met in Delhi.",
        "url": "https://q.example/1",
    }
    path.write_text(json.dumps(good) + "\n{oops\n" + json.dumps({"title": "no text"}) + "\n")
    result = cli.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "imported 1, duplicates 0, linked to an earlier story 0, rejected 2"
    assert lines[1].startswith("  line 2: malformed JSON")
    assert lines[2] == "  line 3: missing text"
    again = cli.invoke(app, ["import", str(path)])
    assert again.output.startswith("imported 0, duplicates 1,")
    missing = cli.invoke(app, ["import", str(tmp_path / "nope.jsonl")])
    assert missing.exit_code == 1
    assert "no such file" in missing.output


def test_stats_and_config(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    cli.invoke(app, ["seed"])
    stats = cli.invoke(app, ["stats"]).output
    assert re.search(r"articles\s+1\b", stats)
    assert re.search(r"sources\s+12\b", stats)
    flat = " ".join(stats.split())  # the table wraps a long path
    assert re.search(r"store SQLite \S*cli\.db \(\d+\.\d MB, schema v\d+\)", flat), stats
    monkeypatch.setenv("BRIEF_TELEGRAM_TOKEN", "123456:very-secret")
    config = cli.invoke(app, ["config"]).output
    assert 'telegram_token = "********"' in config
    assert "very-secret" not in config
    assert 'telegram_api_url = "https://api.telegram.org/bot"' in config


def test_the_scheduler_logs_only_its_warnings(cli: CliRunner) -> None:
    import logging

    assert cli.invoke(app, ["stats"]).exit_code == 0
    assert logging.getLogger("apscheduler.scheduler").getEffectiveLevel() == logging.WARNING


def test_invalid_setting_stops_with_its_name(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRIEF_BRIEF_SIZE", "lots")
    result = cli.invoke(app, ["config"])
    assert result.exit_code == 2
    assert "BRIEF_BRIEF_SIZE" in result.output


def test_run_without_token_explains_and_exits_2(cli: CliRunner) -> None:
    result = cli.invoke(app, ["run"])
    assert result.exit_code == 2
    assert "BotFather" in result.output


def test_every_cli_command_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    ]
    missing = [c for c in commands if f"brief {c}" not in readme]
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [["seed"], ["import", "x.jsonl"], ["ask", "Taiwan"], ["stats"], ["config"], ["run"], ["chat"]],
)
def test_a_missing_brief_config_stops_every_command_naming_it(
    cli: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: list[str],
    unreachable_api_url: str,
) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("BRIEF_CONFIG", str(missing))
    monkeypatch.setenv("BRIEF_TELEGRAM_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.setenv("BRIEF_TELEGRAM_API_URL", unreachable_api_url)
    result = cli.invoke(app, args, input="")
    assert result.exit_code == 2, result.output
    assert f"BRIEF_CONFIG names {missing}" in result.output
    assert not (tmp_path / "cli.db").exists()  # stopped before anything was opened


def test_run_with_a_bad_webhook_secret_stops_at_start(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, unreachable_api_url: str
) -> None:
    monkeypatch.setenv("BRIEF_TELEGRAM_TOKEN", "123456:TEST-TOKEN")
    monkeypatch.setenv("BRIEF_TELEGRAM_API_URL", unreachable_api_url)
    monkeypatch.setenv("BRIEF_WEBHOOK_LISTEN", "127.0.0.1")
    monkeypatch.setenv("BRIEF_WEBHOOK_URL", "https://bot.example.com/hook")
    monkeypatch.setenv("BRIEF_WEBHOOK_SECRET", "not allowed!")
    result = cli.invoke(app, ["run"])
    assert result.exit_code == 2, result.output
    assert "BRIEF_WEBHOOK_SECRET" in result.output and "not allowed!" not in result.output
    assert not (tmp_path / "cli.db").exists()


@pytest.mark.slow
def test_brief_ask_is_quiet(tmp_path: Path) -> None:
    """A fresh `brief ask` process (the model's first query in it): only the answer, nothing on
    stderr: no library deprecation warning (sentence-transformers' `tokenize`), no WARNING."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "BRIEF_DB": str(tmp_path / "ask.db")}
    brief = [sys.executable, "-c", "from bot.cli import main; main()"]
    seeded = subprocess.run([*brief, "seed"], env=env, capture_output=True, text=True, timeout=300)
    assert seeded.returncode == 0, seeded.stderr
    asked = subprocess.run(
        [*brief, "ask", "Taiwan reunification"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert asked.returncode == 0, asked.stderr
    assert "1. U.S. Defense Secretary" in asked.stdout
    # at most INFO lines of its own (the index it loaded); no warning of any kind
    for line in asked.stderr.splitlines():
        assert " INFO " in line, line
    assert "warning" not in (asked.stdout + asked.stderr).lower().replace(
        str(tmp_path).lower(), ""
    )
    assert "deprecated" not in asked.stderr


def test_a_lone_surrogate_rejects_its_line_and_keeps_the_rest(
    cli: CliRunner, tmp_path: Path
) -> None:
    """`"source": "Sur\\ud800"` is valid JSON but not Unicode text: that line is rejected with
    its reason, and the 18 valid lines of the same file are stored."""
    path = tmp_path / "surrogate.jsonl"
    lines = [
        json.dumps(
            {
                "title": f"Port call number {n} in the Pacific",
                "text": f"Vessel {n} docked at harbour {n * 7} after a patrol of {n} days.",
                "url": f"https://surrogate.example/{n}",
                "source": "Example Wire",
            }
        )
        for n in range(1, 20)
    ]
    lines[9] = lines[9].replace('"Example Wire"', '"Sur\\ud800"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli.invoke(app, ["import", str(path)])
    assert result.exit_code == 0, result.output
    head, reason = result.output.splitlines()
    assert re.fullmatch(
        r"imported 18, duplicates 0, linked to an earlier story \d+, rejected 1", head
    )
    assert reason == (
        "  line 10: source holds a lone surrogate (U+D800 at character 4), which is not valid "
        "Unicode text"
    )
    again = cli.invoke(app, ["import", str(path)])
    assert again.output.startswith("imported 0, duplicates 18,")


def test_a_postgres_url_without_a_postgres_store_is_a_clear_error(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from knowledge.store import backends

    monkeypatch.setattr(backends, "POSTGRES_MODULE", "knowledge.store.no_such_backend")
    monkeypatch.setenv("BRIEF_DATABASE_URL", "postgresql://brief:hunter2@db.example:5433/brief")
    result = cli.invoke(app, ["stats"])
    assert result.exit_code == 1
    assert "PostgreSQL db.example:5433/brief" in result.output
    assert "no PostgreSQL store" in result.output
    assert "hunter2" not in result.output
    config = cli.invoke(app, ["config"]).output
    assert 'database_url = "PostgreSQL db.example:5433/brief"' in config
    assert "hunter2" not in config
