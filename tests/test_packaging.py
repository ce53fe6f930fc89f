"""A non-editable install (a wheel) carries config/ and seeds/ and finds them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from knowledge.errors import SettingsError
from knowledge.settings import shipped

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ("config", "seeds")
DATA = "/data/share/indopac-brief/"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built offline from a copy of the checkout."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("bot", "knowledge", *SHIPPED):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", ".", "--wheel-dir", str(dist)]
    subprocess.run(command, cwd=src, check=True, capture_output=True)
    (built,) = dist.glob("indopac_brief-*.whl")
    return built


def test_the_wheel_ships_config_seeds_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = {name.split(DATA, 1)[1] for name in names if DATA in name}
    expected = {
        str(path.relative_to(ROOT))
        for folder in SHIPPED
        for path in (ROOT / folder).iterdir()
        if path.is_file()
    }
    assert expected and expected <= data
    assert "knowledge/store/migrations/001_initial.sql" in names
    assert "bot/standin/server.py" in names


def test_an_installed_layout_finds_config_and_seeds(wheel: Path, tmp_path: Path) -> None:
    site, prefix = tmp_path / "site-packages", tmp_path / "prefix"
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if DATA in name:  # what pip puts under <prefix>/share/indopac-brief/
                target = prefix / name.split(DATA, 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
    roots = (site, prefix)  # the packages' parent has no config/ in an install
    config = tomllib.loads((shipped("config", roots) / "default.toml").read_text("utf-8"))
    assert "Taiwan Strait" in config["topics"]
    assert (shipped("seeds", roots) / "articles.toml").is_file()


def test_a_missing_shipped_folder_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"seeds/ folder is missing"):
        shipped("seeds", (tmp_path,))
