"""Re-train the shipped region classifier (knowledge/regions_model.npz) on the dev half.

Reads ../shared/data/news_asia_pacific in place (articles + distractors), turns each item into
what ingestion stores (bench/regions_corpus.py: draft, summary, embedding), labels it, and fits
on the DEV half only (sha256(str(id)) hex starting 0-7):

- sections: the corpus `topics` labels mapped through knowledge/regions.toml (distractors have
  none); one logistic regression per section;
- regional development (1) vs not for a brief (0): 1 for `core` items and for `broad` ones that
  are neither in a sport/entertainment/lifestyle category nor carry sport or showbiz words in
  the title or lead; 0 for those and for every distractor (non-Asia).

Thresholds are chosen on out-of-fold probabilities of the dev half (5 folds), then the model is
fitted on the whole dev half. The test half is never read here. Deterministic: the same data
and code give the same file.

Run: .venv/bin/python bench/train_regions.py [--check]   (--check: compare, do not write)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import common
import numpy as np
import numpy.typing as npt
import regions_corpus as rc

C_SECTIONS = 4.0
C_REGIONAL = 4.0
MAX_WORDS = 4000  # TF-IDF vocabulary (most frequent unigrams/bigrams of the dev half)
SCALES = (1.0, 1.0, 2.0)  # embedding, words, places and signals
FOLDS = 5
# The regional decision: at most this share of dev non-Asia / sport items let through.
DEV_NON_ASIA_BUDGET = 0.015
DEV_SPORT_BUDGET = 0.025

# Sport and showbiz words (title and lead), for labelling `broad` items not for a brief. The
# corpus's own `relevance` already uses such a list for `core`; this one extends it to the
# broad items that have no category (Yahoo, BBC, zyte).
SPORT_OR_SHOWBIZ = re.compile(
    r"(?<![\w-])(cricket|cricketers?|football|footballers?|soccer|rugby|tennis|golf(?:er)?s?|"
    r"olympics?|olympians?|world cup|tournament|league|championships?|grand slam|"
    r"semi-?finals?|quarter-?finals?|medals?|medallists?|athletes?|marathon|badminton|"
    r"baseball|basketball|nba|fifa|formula one|grand prix|boxing|boxers?|wickets?|innings|"
    r"batsman|bowler|striker|midfielder|goalkeeper|coach|squad|test series|odi|t20|"
    r"films?|movies?|actors?|actress(?:es)?|singers?|pop star|k-pop|albums?|concerts?|"
    r"box office|hollywood|bollywood|celebrit(?:y|ies)|oscars?|grammys?|pageant|"
    r"miss universe|fashion|recipes?|chefs?|cuisine|tv series|sitcom|reality show)(?![\w-])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Labelled:
    """Feature matrix and labels of a set of items."""

    x: npt.NDArray[np.float32]
    sections: npt.NDArray[np.int8]  # (n × sections)
    regional: npt.NDArray[np.int8]  # (n × 2): about the Asia-Pacific, off-brief


def sport_or_showbiz(item: rc.Item) -> bool:
    """Sport, entertainment or lifestyle: by category, a sport or showbiz word in the title,
    or two different ones in the lead (one word in a lead is often a metaphor or an aside)."""
    if item.sport_or_showbiz or SPORT_OR_SHOWBIZ.search(item.title):
        return True
    found = {m.group(1).casefold() for m in SPORT_OR_SHOWBIZ.finditer(item.text[:800])}
    return len(found) >= 2


def off_brief_sport(item: rc.Item) -> bool:
    """An Asia-Pacific item that is sport, entertainment or lifestyle (never a `core` one)."""
    return item.asia and item.relevance != "core" and sport_or_showbiz(item)


def regional_label(item: rc.Item) -> int:
    """1: a regional development; 0: not for a brief."""
    if not item.asia:
        return 0
    if item.relevance == "core":
        return 1
    return 0 if (item.off_brief_category or sport_or_showbiz(item)) else 1


def regional_targets(items: Sequence[rc.Item]) -> npt.NDArray[np.int8]:
    """(n × 2): about the Asia-Pacific (in articles.jsonl.gz), and sport/entertainment/
    lifestyle (category or words; never for `core` items, which the corpus keeps clear of
    them). Distractors teach the second too: most of the corpus's sport is not Asian."""
    return np.array(
        [
            [
                int(i.asia),
                int(i.relevance != "core" and (i.off_brief_category or sport_or_showbiz(i))),
            ]
            for i in items
        ],
        dtype=np.int8,
    )


def section_labels(items: Sequence[rc.Item]) -> npt.NDArray[np.int8]:
    """The (n × sections) 0/1 matrix of the corpus topics mapped to sections."""
    from knowledge.regions import taxonomy

    tax = taxonomy()
    out = np.zeros((len(items), len(tax.keys)), dtype=np.int8)
    for row, item in enumerate(items):
        for key in tax.sections_of_labels(item.topics):
            out[row, tax.keys.index(key)] = 1
    return out


def fit_words(items: Sequence[rc.Item]) -> tuple[list[str], npt.NDArray[np.float64]]:
    """The TF-IDF vocabulary and idf fitted on these items' titles and leads."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from knowledge.regions import lead_of

    if MAX_WORDS == 0:
        return [], np.zeros(0)
    vec = TfidfVectorizer(
        ngram_range=(1, 2), min_df=3, max_features=MAX_WORDS, sublinear_tf=True, dtype=np.float64
    )
    vec.fit([lead_of(i.title, i.text) for i in items])
    vocabulary = [str(t) for t in vec.get_feature_names_out()]
    return vocabulary, np.asarray(vec.idf_, dtype=np.float64)


def model_for(
    keys: Sequence[str],
    vocabulary: Sequence[str],
    idf: npt.NDArray[np.float64],
    n_features: int,
) -> object:
    """An unfitted RegionModel shell (for its feature transform)."""
    from knowledge.regions import RegionModel

    return RegionModel(
        keys=tuple(keys),
        vocabulary=tuple(vocabulary),
        idf=idf,
        weights=np.zeros((n_features, len(keys)), dtype=np.float32),
        bias=np.zeros(len(keys), dtype=np.float32),
        thresholds=np.full(len(keys), 0.5, dtype=np.float32),
        regional_weights=np.zeros((n_features, 2), dtype=np.float32),
        regional_bias=np.zeros(2, dtype=np.float32),
        regional_threshold=0.5,
        scales=SCALES,
    )


def featurise(model: object, items: Sequence[rc.Item], vectors: np.ndarray) -> np.ndarray:
    """The model's features of these items."""
    from knowledge.regions import RegionModel

    assert isinstance(model, RegionModel)
    return model.features([i.title for i in items], [i.text for i in items], vectors)


def _fit_lr(x: np.ndarray, y: np.ndarray, c: float) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():  # a section absent from the data: never labelled
        return np.zeros(x.shape[1]), -20.0
    lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", solver="lbfgs")
    lr.fit(x, y)
    return lr.coef_[0], float(lr.intercept_[0])


def fit_all(data: Labelled) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(section weights, section biases, regional weights, regional biases)."""
    weights, biases = [], []
    for s in range(data.sections.shape[1]):
        w, b = _fit_lr(data.x, data.sections[:, s], C_SECTIONS)
        weights.append(w)
        biases.append(b)
    rws, rbs = [], []
    for r in range(data.regional.shape[1]):
        w, b = _fit_lr(data.x, data.regional[:, r], C_REGIONAL)
        rws.append(w)
        rbs.append(b)
    return np.array(weights).T, np.array(biases), np.array(rws).T, np.array(rbs)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


def out_of_fold(data: Labelled, folds: npt.NDArray[np.int64]) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold probabilities (sections, regional) over the dev half."""
    sections = np.zeros(data.sections.shape, dtype=np.float64)
    regional = np.zeros(len(data.regional), dtype=np.float64)
    for k in range(FOLDS):
        train, held = folds != k, folds == k
        part = Labelled(data.x[train], data.sections[train], data.regional[train])
        w, b, rw, rb = fit_all(part)
        sections[held] = _sigmoid(data.x[held] @ w + b)
        both = _sigmoid(data.x[held] @ rw + rb)
        regional[held] = both[:, 0] * (1.0 - both[:, 1])
    return sections, regional


def section_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """The threshold with the best F-beta (beta 1.5: recall weighs more, a story must reach
    its section) over out-of-fold dev probabilities."""
    if y.sum() == 0:
        return 0.5
    best, best_t = -1.0, 0.5
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        pred = prob >= t
        tp = float((pred & (y == 1)).sum())
        p = tp / max(pred.sum(), 1)
        r = tp / max(y.sum(), 1)
        beta2 = 1.5**2
        f = (1 + beta2) * p * r / max(beta2 * p + r, 1e-9)
        if f > best + 1e-9:
            best, best_t = f, float(t)
    return best_t


def regional_threshold(prob: np.ndarray, items: Sequence[rc.Item]) -> float:
    """The lowest threshold that lets through at most the dev budgets of non-Asia and sport
    items (out of fold): the most regional developments kept within them."""
    non_asia = np.array([not i.asia for i in items])
    sport = np.array([off_brief_sport(i) for i in items])
    for t in np.round(np.arange(0.05, 0.991, 0.005), 3):
        passed = prob >= t
        if (passed[non_asia].mean() <= DEV_NON_ASIA_BUDGET) and (
            passed[sport].mean() <= DEV_SPORT_BUDGET
        ):
            return float(t)
    return 0.99


def dev_data() -> tuple[list[rc.Item], np.ndarray]:
    """The dev half's items and embeddings."""
    items, vectors = rc.load()
    keep = [n for n, i in enumerate(items) if i.half == "dev"]
    return [items[n] for n in keep], vectors[keep]


def train() -> tuple[object, str]:
    """(the fitted RegionModel, a summary line)."""
    import dataclasses

    from knowledge.regions import place_feature_count, taxonomy

    items, vectors = dev_data()
    keys = taxonomy().keys
    vocabulary, idf = fit_words(items)
    n_features = vectors.shape[1] + len(vocabulary) + place_feature_count(taxonomy())
    shell = model_for(keys, vocabulary, idf, n_features)
    data = Labelled(
        featurise(shell, items, vectors),
        section_labels(items),
        regional_targets(items),
    )
    folds = np.array([int(rc.sha(i.id)[1], 16) % FOLDS for i in items], dtype=np.int64)
    oof_sections, oof_regional = out_of_fold(data, folds)
    thresholds = np.array(
        [section_threshold(oof_sections[:, s], data.sections[:, s]) for s in range(len(keys))]
    )
    r_threshold = regional_threshold(oof_regional, items)
    w, b, rw, rb = fit_all(data)
    info = {
        "trained_by": "bench/train_regions.py",
        "data": "../shared/data/news_asia_pacific (articles + distractors), dev half",
        "items": len(items),
        "positives": {k: int(data.sections[:, s].sum()) for s, k in enumerate(keys)},
        "regional_positives": int(sum(regional_label(i) for i in items)),
        "vocabulary": len(vocabulary),
        "c": [C_SECTIONS, C_REGIONAL],
    }
    model = dataclasses.replace(
        shell,  # type: ignore[type-var]
        weights=w.astype(np.float32),
        bias=b.astype(np.float32),
        thresholds=thresholds.astype(np.float32),
        regional_weights=rw.astype(np.float32),
        regional_bias=rb.astype(np.float32),
        regional_threshold=r_threshold,
        info=json.dumps(info, sort_keys=True),
    )
    summary = (
        f"{len(items)} dev items, {len(vocabulary)} words; thresholds "
        + ", ".join(f"{k} {t:.2f}" for k, t in zip(keys, thresholds, strict=True))
        + f"; regional {r_threshold:.3f}"
    )
    return model, summary


def main() -> int:
    """Train, then write (or with --check compare) knowledge/regions_model.npz."""
    from knowledge.regions import MODEL_FILE, read_model

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    model, summary = train()
    common.log(f"train_regions: {summary}")
    if args.check:
        same = MODEL_FILE.exists() and read_model(MODEL_FILE).signature == model.signature  # type: ignore[attr-defined]
        print("the shipped model matches" if same else "the shipped model differs")
        return 0 if same else 1
    model.save(MODEL_FILE)  # type: ignore[attr-defined]
    print(f"wrote {MODEL_FILE} ({MODEL_FILE.stat().st_size:,} bytes; {summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
