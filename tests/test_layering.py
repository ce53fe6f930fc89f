"""Architecture rules: knowledge/ never imports Telegram; importing does no I/O."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_knowledge_never_imports_telegram_or_bot() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in {"telegram", "bot"}
        )
        for path in (ROOT / "knowledge").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_packages_opens_nothing(tmp_path: Path) -> None:
    code = (
        "import sys, knowledge.service, knowledge.search, bot.app, bot.cli;"
        "assert 'sentence_transformers' not in sys.modules, 'model library loaded at import';"
        "import os; print(sorted(os.listdir('.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # no database or folder created at import time
