"""How the near-duplicate threshold was chosen: pairs of Asia-corpus articles within the
time window, counted per cosine band, with a seeded sample of each band to read by eye.

Run: .venv/bin/python bench/bench_duplicates.py
"""

from __future__ import annotations

import random
import sqlite3

import common
import numpy as np

from knowledge.embedder import from_blobs

BANDS = ((0.85, 0.88), (0.88, 0.90), (0.90, 0.92), (0.92, 0.95), (0.95, 1.01))
SAMPLE = 6


def main(quick: bool = False) -> str:
    """The markdown section: pair counts per threshold and a sample of each band."""
    asia, _ = common.corpus_dbs()
    settings = common.make_settings(asia)
    window = settings.duplicate_window_days * 86400
    with sqlite3.connect(f"file:{asia}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT title, coalesce(published, fetched), embedding FROM articles ORDER BY id"
        ).fetchall()
    titles = [r[0] for r in rows]
    times = np.array([r[1].rstrip("Z") for r in rows], dtype="datetime64[s]").astype(np.int64)
    matrix = from_blobs([r[2] for r in rows])
    sims = matrix @ matrix.T
    upper = np.triu(np.ones(sims.shape, dtype=bool), k=1)
    near = np.abs(times[:, None] - times[None, :]) <= window
    first, second = np.nonzero(upper & near & (sims >= BANDS[0][0]))
    values = sims[first, second]
    lines = [
        "## Near-duplicate threshold",
        "",
        f"{len(rows):,} Asia-corpus articles; pairs within {settings.duplicate_window_days} days "
        f"of each other (current threshold {settings.duplicate_similarity}).",
        "",
        "| cosine ≥ | pairs |",
        "|---:|---:|",
    ]
    for threshold in (0.85, 0.88, 0.90, 0.92, 0.95, 0.98):
        lines.append(f"| {threshold:.2f} | {int((values >= threshold).sum())} |")
    rng = random.Random(1)
    for low, high in BANDS:
        picked = [i for i in range(len(values)) if low <= values[i] < high]
        lines += ["", f"Sample of {low:.2f}–{min(high, 1.0):.2f} ({len(picked)} pairs):", ""]
        for i in rng.sample(picked, min(SAMPLE, len(picked))):
            a, b = titles[first[i]][:60], titles[second[i]][:60]
            lines.append(f"- {values[i]:.3f}: {a} ‖ {b}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
