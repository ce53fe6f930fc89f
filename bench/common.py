"""What the benchmarks share: paths, the environment, the cached corpus databases, the query set,
machine facts and small statistics helpers.

Cached databases live in bench/.cache, keyed by a hash of knowledge/*.py and
config/default.toml, so a change to the core rebuilds them and a rerun reuses them.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
CACHE = BENCH / ".cache"
DATA = ROOT.parent / "shared" / "data" / "news_asia_pacific"
ARTICLES = DATA / "articles.jsonl.gz"
DISTRACTORS = DATA / "distractors.jsonl.gz"

if str(ROOT) not in sys.path:  # the bench package, when run as `python bench/x.py`
    sys.path.insert(0, str(ROOT))


def setup_env() -> None:
    """Offline model, PTB's timedelta opt-in, and no developer BRIEF_* settings leaking in."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["PTB_TIMEDELTA"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in list(os.environ):
        if name.startswith("BRIEF_"):
            del os.environ[name]
    os.environ["BRIEF_ENV_FILE"] = ""  # nor a .env in the working directory
    os.environ["BRIEF_POLL"] = "false"  # a bench never polls the real seed sources


setup_env()

if TYPE_CHECKING:
    from knowledge.embedder import Embedder
    from knowledge.settings import Settings


# --- cache keys -----------------------------------------------------------------------------
def source_key() -> str:
    """A short hash of what a cached DB depends on: the import path's sources and the default
    config (search.py is left out: ranking changes need no rebuild)."""
    digest = hashlib.sha256()
    stored = ("embedder", "ingest", "records", "service", "settings", "text", "urls")
    files = [ROOT / "knowledge" / f"{name}.py" for name in stored]
    files += sorted((ROOT / "knowledge" / "store").rglob("*.py"))
    files += sorted((ROOT / "knowledge" / "store" / "migrations").glob("*.sql"))
    files.append(ROOT / "config" / "default.toml")
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_cache() -> Path:
    """bench/.cache, with a .gitignore beside it in bench/."""
    CACHE.mkdir(parents=True, exist_ok=True)
    ignore = BENCH / ".gitignore"
    if not ignore.exists():
        ignore.write_text(".cache/\n", encoding="utf-8")
    return CACHE


# --- settings and the model -----------------------------------------------------------------
def make_settings(db: Path, **overrides: Any) -> Settings:
    """The project's settings (config/default.toml) over `db`, with overrides; a variant run
    sets BENCH_MODEL_THREADS (BRIEF_* variables are cleared so that only the files count)."""
    from knowledge.settings import load_settings

    if os.environ.get("BENCH_MODEL_THREADS"):
        overrides.setdefault("model_threads", int(os.environ["BENCH_MODEL_THREADS"]))
    return load_settings(db=db, **overrides)


_EMBEDDER: list[Embedder] = []


def embedder() -> Embedder:
    """One loaded model per process."""
    if not _EMBEDDER:
        from knowledge.embedder import Embedder

        defaults = make_settings(CACHE / "unused.db")
        model = Embedder(defaults.model_path, defaults.embed_batch_size)
        model.load()
        _EMBEDDER.append(model)
    return _EMBEDDER[0]


# --- the corpus -----------------------------------------------------------------------------
def read_rows(path: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The decoded JSON lines of a .jsonl.gz file."""
    rows: list[dict[str, Any]] = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def numbered(rows: Sequence[dict[str, Any]]) -> list[tuple[int, object]]:
    """(line number, record) pairs, as import_records takes them."""
    return [(i, row) for i, row in enumerate(rows, start=1)]


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def log(message: str) -> None:
    """Progress on stderr (the tables go to stdout)."""
    _log(message)


def corpus_dbs() -> tuple[Path, Path]:
    """(Asia-only DB, Asia + distractors DB), built through BriefService.import_records with the
    real model and cached. The Asia-only file is the state after importing articles.jsonl.gz;
    the full one adds distractors.jsonl.gz on top."""
    from knowledge.build import build_service

    ensure_cache()
    key = source_key()
    asia, full = CACHE / f"asia-{key}.db", CACHE / f"full-{key}.db"
    if asia.exists() and full.exists():
        return asia, full
    work = CACHE / f"build-{key}-{os.getpid()}.db"
    for stale in CACHE.glob(f"{work.name}*"):
        stale.unlink()
    log(f"building the corpus databases (key {key}); this runs the model over ~7,300 items")
    started = time.perf_counter()
    service = build_service(make_settings(work), embedder=embedder())
    report_a = service.import_records(numbered(read_rows(ARTICLES)))
    service.close()  # the last connection closing checkpoints the WAL into the file
    # per-process names: two benchmarks started at once may both build the same key
    part = CACHE / f"{asia.name}.{os.getpid()}.part"
    shutil.copyfile(work, part)
    service = build_service(make_settings(work), embedder=embedder())
    report_d = service.import_records(numbered(read_rows(DISTRACTORS)))
    service.close()
    meta = {
        "articles": _report_dict(report_a),
        "distractors": _report_dict(report_d),
        "build_s": round(time.perf_counter() - started, 1),
    }
    (CACHE / f"corpus-{key}.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    part.replace(asia)
    work.replace(full)
    log(f"corpus databases built in {meta['build_s']} s: {meta}")
    return asia, full


def corpus_meta() -> dict[str, Any]:
    """The import reports of the cached corpus build."""
    path = CACHE / f"corpus-{source_key()}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _report_dict(report: Any) -> dict[str, Any]:
    return {
        "imported": report.imported,
        "duplicates": report.duplicates,
        "linked": report.linked,
        "rejected": [(r.line, r.reason) for r in report.rejected],
    }


# --- scaled databases (replicated rows, no model) -------------------------------------------
NOISE_SIGMA = 0.03  # per dimension; a copy keeps a cosine of ~0.86 to its original
DAY_SHIFT = 2  # days each copy is moved forward


def scaled_db(size: int) -> Path:
    """A DB of `size` articles: the corpus (Asia + distractors) replicated with new URLs
    (?copy=N), perturbed and re-normalised vectors, and shifted dates. Cached."""
    import numpy as np

    from knowledge.embedder import DIM, to_blob
    from knowledge.store import NewArticle, Store, from_db_time

    _, full = corpus_dbs()
    key = source_key()
    target = CACHE / f"scaled-{size}-{key}.db"
    if target.exists():
        return target
    log(f"building the {size:,}-article database from the cached corpus")
    started = time.perf_counter()
    source = Store(full)
    with source.db.read() as conn:  # the bench reads every column; Store has no such query
        base = conn.execute(
            "SELECT id, url, title, source, published, fetched, text, summary, content_hash, "
            "embedding FROM articles ORDER BY id"
        ).fetchall()
    source.close()
    vectors = np.frombuffer(b"".join(r["embedding"] for r in base), dtype=np.float16)
    vectors = vectors.reshape(len(base), DIM).astype(np.float32)
    rng = np.random.default_rng(13)
    work = CACHE / f"build-{target.name}-{os.getpid()}"
    for stale in CACHE.glob(f"{work.name}*"):
        stale.unlink()
    store = Store(work)
    fetched_at = datetime(2026, 1, 1, tzinfo=UTC)
    chunk: list[NewArticle] = []
    for i in range(size):
        row, copy = base[i % len(base)], i // len(base)
        shift = timedelta(days=DAY_SHIFT * copy)
        if copy == 0:
            blob, url, digest = row["embedding"], row["url"], row["content_hash"]
        else:
            v = vectors[i % len(base)] + rng.normal(0.0, NOISE_SIGMA, DIM).astype(np.float32)
            blob = to_blob(v / np.linalg.norm(v))
            original = row["url"] or f"https://bench.invalid/article/{row['id']}"
            url = f"{original}?copy={copy}"
            digest = hashlib.sha256(f"{row['content_hash']}:{copy}".encode()).hexdigest()
        published = from_db_time(row["published"])
        chunk.append(
            NewArticle(
                url=url,
                title=row["title"],
                source=row["source"],
                published=published + shift if published else None,
                fetched=(from_db_time(row["fetched"]) or fetched_at) + shift,
                text=row["text"],
                summary=row["summary"],
                content_hash=digest,
                embedding=blob,
                story_id=None,
            )
        )
        if len(chunk) == 10_000:
            store.articles.insert(chunk)
            chunk = []
    if chunk:
        store.articles.insert(chunk)
    store.close()
    work.replace(target)
    log(f"{size:,}-article database built in {time.perf_counter() - started:.1f} s")
    return target


# --- the query set --------------------------------------------------------------------------
TOPIC_QUERIES = (
    "Scarborough Shoal",
    "AUKUS submarines",
    "Taiwan Strait tensions",
    "South China Sea disputes",
    "North Korea missile",
    "Japan East China Sea Senkaku",
    "India Indian Ocean navy",
    "Australia Pacific Islands",
    "Quad AUKUS alliance",
    "ASEAN summit",
    "Spratly Islands",
    "Kim Jong Un",
    "Xi Jinping visit",
    "Shinzo Abe",
    "Modi election",
    "Hong Kong protests",
    "Thailand coup",
    "Myanmar Rohingya",
    "MH370 search",
    "Philippines typhoon",
    "Indonesia earthquake",
    "Pakistan Taliban",
    "Sri Lanka war crimes",
    "Korean ferry disaster",
    "yuan devaluation",
    "Chinese coast guard water cannon",
    "Japan constitution self-defense",
    "Malaysia Airlines",
    "Tiananmen anniversary",
    "Vietnam oil rig protest",
    "Australian asylum seekers",
    "New Zealand election",
    "Fiji election",
    "Bangladesh garment factory",
    "Nepal earthquake",
    "Dalai Lama",
    "Uighur Xinjiang",
    "Bank of Japan stimulus",
    "Samsung profit",
    "US Navy freedom of navigation",
    "Okinawa US base",
    "Cambodia opposition",
    "Singapore economy",
    "Kashmir",
    "Air defense identification zone",
    "Guam",
    "Papua New Guinea",
    "Solomon Islands China",
    "Indian Ocean",
    "trade deal Trans-Pacific Partnership",
)


def query_set(n: int = 200, seed: int = 7) -> list[str]:
    """`n` varied queries: the short topics above plus headlines sampled from the corpus."""
    titles = [r["title"] for r in read_rows(ARTICLES) if (r.get("title") or "").strip()]
    rng = random.Random(seed)
    headlines = rng.sample(titles, max(0, n - len(TOPIC_QUERIES)))
    queries = [*TOPIC_QUERIES[:n], *headlines]
    rng.shuffle(queries)
    return queries


# --- machine facts --------------------------------------------------------------------------
def load_average() -> str:
    """`uptime`'s load averages (1, 5, 15 min)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def machine() -> dict[str, str]:
    """Date, CPU, cores, RAM and library versions for the results header."""
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = re.search(r"Model name:\s*(.+)", lscpu)
        cpu = model.group(1).strip() if model else platform.processor()
    except OSError:
        cpu = platform.processor()
    mem = "?"
    with Path("/proc/meminfo").open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    versions = {}
    for name in ("torch", "numpy", "sklearn", "sentence_transformers", "telegram"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "-"
    date = subprocess.run(["date", "-u"], capture_output=True, text=True, check=False).stdout
    return {
        "date": date.strip(),
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "nproc": subprocess.run(
            ["nproc"], capture_output=True, text=True, check=False
        ).stdout.strip(),
        "ram": mem,
        "python": platform.python_version(),
        "sqlite": __import__("sqlite3").sqlite_version,
        **versions,
    }


# --- statistics and tables ------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def proc_status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    with Path("/proc/self/status").open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median(values: Sequence[float]) -> float:
    """The median, NaN for none."""
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


SUMMARY: list[list[str]] = []  # (benchmark, target, measured, met) rows for run_all's header


def target(bench: str, goal: str, measured: str, met: bool | None) -> None:
    """Record a target and what was measured, for the summary at the top of RESULTS.md."""
    verdict = "–" if met is None else ("yes" if met else "**no**")
    SUMMARY.append([bench, goal, measured, verdict])


def cli(entry: Callable[..., str]) -> None:
    """`python bench/<name>.py [--quick]`: print the section."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    print(entry(quick=args.quick))


def footer(load_before: str, started: float, note: str = "") -> list[str]:
    """The closing lines of a section: the load average around it and its wall time."""
    return [
        "",
        f"Load average before/after: {load_before} / {load_average()}; "
        f"{time.perf_counter() - started:.0f} s{note}.",
        "",
    ]
