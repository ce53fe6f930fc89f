"""What people ask: natural topic questions, questions about things the store holds nothing on,
one-word topics, and headline → own article, over the shared news corpus (articles +
distractors). Every system is compared on the same candidates; tuned on the dev half only,
reported on the test half.

The questions are bench/relevance_questions.json (written for this project); relevance comes
from the corpus's `topics` labels plus each question's own terms (see the file's "about").
bench/train_relevance.py fits the shipped model with the functions here.

Run: .venv/bin/python bench/bench_relevance.py [--quick]
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import numpy as np
import numpy.typing as npt

QUESTIONS = common.BENCH / "relevance_questions.json"
K = 5
CANDIDATES = 50
HEADLINES = 1000  # headline queries (half dev, half test)
QUICK_HEADLINES = 200
OLD_FLOOR, OLD_KEYWORD_FLOOR, OLD_DENSE_W, OLD_KEYWORD_W = 0.35, 0.25, 0.3, 0.7
LEAD_CHARS = 800  # the corpus filter judged title + the first 800 characters


# --- questions and labels --------------------------------------------------------------------
@dataclass
class Question:
    """One question with its kind, its half and how to judge a story for it."""

    qid: str
    kind: str  # topic | nothing | word | headline
    text: str
    half: str = "dev"
    relevant: Callable[[list[dict[str, Any]]], bool] = field(default=lambda rows: False)
    about: Callable[[list[dict[str, Any]]], bool] | None = None  # one-word: "is about"
    target: int | None = None  # headline: the own story


def _halves(ids: Sequence[str]) -> dict[str, str]:
    """Dev/test halves: order by a hash of the id, first half dev (deterministic)."""
    ordered = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    cut = (len(ordered) + 1) // 2
    return {qid: ("dev" if n < cut else "test") for n, qid in enumerate(ordered)}


def _text(row: dict[str, Any]) -> str:
    return f"{row.get('title') or ''}\n{row.get('text') or ''}"


def _word_rx(word: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])", re.IGNORECASE)


def load_questions() -> tuple[list[Question], dict[str, Any]]:
    """Topic, nothing-held and one-word questions from the data file, with their halves."""
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    out: list[Question] = []
    for kind, key in (("topic", "topic"), ("nothing", "nothing"), ("word", "one_word")):
        halves = _halves([q["id"] for q in data[key]])
        for q in data[key]:
            item = Question(q["id"], kind, q["text"], halves[q["id"]])
            if kind == "topic":
                topics = set(q["topics"])
                patterns = [re.compile(p, re.IGNORECASE) for p in q["all"]]

                def relevant(
                    rows: list[dict[str, Any]],
                    topics: set[str] = topics,
                    patterns: list[re.Pattern[str]] = patterns,
                ) -> bool:
                    return any(
                        topics & set(r.get("topics") or ())
                        and all(p.search(_text(r)) for p in patterns)
                        for r in rows
                    )

                item.relevant = relevant
            elif kind == "word":
                rx = _word_rx(q["text"])
                item.relevant = lambda rows, rx=rx: any(rx.search(_text(r)) for r in rows)
                item.about = lambda rows, rx=rx: any(
                    rx.search(f"{r.get('title') or ''}\n{(r.get('text') or '')[:LEAD_CHARS]}")
                    for r in rows
                )
            out.append(item)
    return out, data


def check_nothing_held(data: dict[str, Any], rows: Sequence[dict[str, Any]]) -> list[str]:
    """Nothing-held questions whose `absent` terms do occur in the corpus (should be none)."""
    texts = [_text(r) for r in rows]
    bad = []
    for q in data["nothing"]:
        for pattern in q["absent"]:
            rx = re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE)
            if any(rx.search(t) for t in texts):
                bad.append(f"{q['id']} ({pattern})")
    return bad


def _norm(text: str) -> str:
    return " ".join(text.split())[:120]


class Corpus:
    """The DB's stories mapped back to the corpus records (with their labels)."""

    def __init__(self, engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for r in rows:
            if r.get("title") and r.get("text"):
                by_key.setdefault((_norm(r["title"]), _norm(r["text"])), r)
        self.records: dict[int, list[dict[str, Any]]] = {}  # story id -> its records
        self.article_story: dict[int, int] = {}
        self.first_title: dict[int, str] = {}
        self.missing = 0
        for article_id, story_id, title, text in engine.all_articles():
            self.article_story[article_id] = story_id
            record = by_key.get((_norm(title), _norm(text)))
            if record is None:
                self.missing += 1
                continue
            self.records.setdefault(story_id, []).append(record)
            self.first_title.setdefault(story_id, title)
        self.row_of_record = {id(r): r for r in rows}

    def relevant_stories(self, q: Question) -> set[int]:
        """Every story in the DB relevant to q."""
        if q.kind == "headline":
            return {q.target} if q.target is not None else set()
        return {s for s, recs in self.records.items() if q.relevant(recs)}

    def about_stories(self, q: Question) -> set[int]:
        """One-word topics: stories about the word (title or lead)."""
        about = q.about
        if about is None:
            return set()
        return {s for s, recs in self.records.items() if about(recs)}


# --- the engine: candidates and features through the real search code -----------------------
@dataclass
class Prepared:
    """One question's candidates (new keyword query and the old one) and features."""

    q: Question
    terms: Any
    cands: Any  # relevance.Candidates (pruned keyword query)
    x: npt.NDArray[np.float64]
    labels: npt.NDArray[np.bool_]
    old: Any  # relevance.Candidates with the old all-words OR query (baselines)
    dense_order: list[int]  # stories by cosine, dense candidates only
    keyword_order: list[int]  # stories by bm25 (pruned query)
    unrelated: npt.NDArray[np.bool_] | None = None  # headline: sure negatives


class Engine:
    """Opens a corpus DB through BriefService and computes candidates and features with the
    same functions Searcher uses."""

    def __init__(self, db: Path) -> None:
        from knowledge.build import build_service

        self.service = build_service(common.make_settings(db), embedder=common.embedder())
        self.service.warm_up()
        self.searcher = self.service.searcher

    def all_articles(self) -> list[tuple[int, int, str, str]]:
        """(id, story id, title, text) of every stored article."""
        with self.searcher.store.db.read() as conn:
            return [
                (int(r[0]), int(r[1]), str(r[2]), str(r[3]))
                for r in conn.execute(
                    "SELECT id, coalesce(story_id, id), title, text FROM articles ORDER BY id"
                )
            ]

    def prepare(
        self, questions: Sequence[Question], corpus: Corpus, log_every: int = 0
    ) -> list[Prepared]:
        """Candidates, features and labels for each question (vectors embedded in one batch)."""
        from knowledge.relevance import features
        from knowledge.search import keyword_query

        s = self.searcher
        vectors = common.embedder().encode([q.text for q in questions])
        out: list[Prepared] = []
        for n, (q, vector) in enumerate(zip(questions, vectors, strict=True)):
            terms, cands = s.candidates(q.text, vector)
            old_match = keyword_query(q.text)
            old_hits = s.store.articles.keyword_search(old_match, CANDIDATES) if old_match else []
            _, old = s.candidates(q.text, vector, keyword_hits=old_hits, terms=terms)
            x = features(terms, cands, s.stemmer, CANDIDATES)
            relevant = corpus.relevant_stories(q) if q.kind != "nothing" else set()
            labels = np.array([int(sid) in relevant for sid in cands.story_ids], dtype=bool)
            dense = [
                int(sid)
                for sid, in_dense in zip(
                    cands.story_ids[np.argsort(-cands.cosine, kind="stable")].tolist(),
                    (cands.in_dense[np.argsort(-cands.cosine, kind="stable")]).tolist(),
                    strict=True,
                )
                if in_dense
            ]
            hit = cands.keyword_rank >= 0
            order = np.argsort(cands.keyword_rank[hit], kind="stable")
            keyword = [int(v) for v in cands.story_ids[hit][order].tolist()]
            out.append(Prepared(q, terms, cands, x, labels, old, dense, keyword))
            if log_every and (n + 1) % log_every == 0:
                common.log(f"relevance: prepared {n + 1}/{len(questions)}")
        return out

    def close(self) -> None:
        """Close the service."""
        self.service.close()


def headline_questions(corpus: Corpus, engine: Engine, n: int) -> list[Question]:
    """`n` headlines of stored articles (distractors too), each looking for its own story."""
    import random

    ids = sorted(corpus.article_story)
    rng = random.Random(11)
    chosen = sorted(rng.sample(ids, min(n, len(ids))))
    titles = {a: t for a, _, t, _ in engine.all_articles() if a in set(chosen)}
    halves = _halves([f"h{a}" for a in chosen])
    return [
        Question(
            f"h{a}",
            "headline",
            " ".join(titles[a].split()),
            halves[f"h{a}"],
            target=corpus.article_story[a],
        )
        for a in chosen
    ]


# --- systems ---------------------------------------------------------------------------------
Answer = list[int]  # story ids, best first (empty: "nothing on that yet")


def dense_only(p: Prepared) -> Answer:
    """Nearest stories by cosine, no decision."""
    return p.dense_order[:10]


def keyword_only(p: Prepared) -> Answer:
    """bm25 order, no decision."""
    return p.keyword_order[:10]


def old_fusion(p: Prepared, floors: bool = True) -> Answer:
    """What search did before: 0.3 cosine + 0.7 min-max bm25 over the all-words OR query;
    shown when cosine ≥ 0.35, or ≥ 0.25 with a keyword match."""
    c = p.old
    hit = c.keyword_rank >= 0
    scaled = np.zeros(len(c))
    if hit.any():
        best, worst = float(c.bm25[hit].min()), float(c.bm25[hit].max())
        spread = worst - best
        scaled[hit] = (worst - c.bm25[hit]) / spread if spread > 0 else 1.0
    score = OLD_DENSE_W * c.cosine + OLD_KEYWORD_W * scaled
    keep = (
        (c.cosine >= np.where(hit, OLD_KEYWORD_FLOOR, OLD_FLOOR))
        if floors
        else np.ones(len(c), bool)
    )
    idx = [i for i in np.argsort(-score, kind="stable").tolist() if keep[i]]
    return [int(c.story_ids[i]) for i in idx][:10]


def rrf(p: Prepared, k: int = 60) -> Answer:
    """Reciprocal rank fusion of the dense and keyword orders, no decision."""
    score: dict[int, float] = {}
    for order in (p.dense_order, p.keyword_order):
        for rank, sid in enumerate(order):
            score[sid] = score.get(sid, 0.0) + 1.0 / (k + rank + 1)
    return sorted(score, key=lambda s: -score[s])[:10]


def by_probability(prob: npt.NDArray[np.float64], p: Prepared, threshold: float) -> Answer:
    """Stories at or above the threshold, most probable first."""
    from knowledge.relevance import decide

    return [sid for sid, _, _ in decide(prob, p.cands, threshold)][:10]


# --- metrics ---------------------------------------------------------------------------------
@dataclass
class Scores:
    """The headline numbers of one system on one half."""

    p5: float = float("nan")  # topic questions: mean precision@5
    topic_answered: float = float("nan")
    nothing_empty: float = float("nan")
    words_ok: int = 0
    words_needed: int = 0
    word_p5: float = float("nan")
    mrr10: float = float("nan")
    own_shown: float = float("nan")  # headline: own story among the answer's first 10

    def objective(self) -> float:
        """What thresholds are tuned for on dev (every part weighs the same)."""
        words = self.words_ok / self.words_needed if self.words_needed else 1.0
        return self.p5 + self.nothing_empty + words + self.own_shown


def precision_at_k(answer: Answer, relevant: set[int]) -> float:
    """Relevant among the first K, over min(K, relevant stories held): abstaining costs."""
    denominator = min(K, len(relevant))
    if not denominator:
        return float("nan")
    return sum(s in relevant for s in answer[:K]) / denominator


def score(
    answers: dict[str, Answer],
    prepared: Sequence[Prepared],
    truth: dict[str, set[int]],
    about: dict[str, set[int]],
) -> Scores:
    """Scores over the questions given."""
    out = Scores()
    topic = [p for p in prepared if p.q.kind == "topic"]
    if topic:
        out.p5 = float(
            np.nanmean([precision_at_k(answers[p.q.qid], truth[p.q.qid]) for p in topic])
        )
        out.topic_answered = float(np.mean([bool(answers[p.q.qid]) for p in topic]))
    nothing = [p for p in prepared if p.q.kind == "nothing"]
    if nothing:
        out.nothing_empty = float(np.mean([not answers[p.q.qid] for p in nothing]))
    words = [p for p in prepared if p.q.kind == "word"]
    needed = [p for p in words if len(about[p.q.qid]) >= 3]
    out.words_needed = len(needed)
    out.words_ok = sum(len(answers[p.q.qid]) >= 3 for p in needed)
    if words:
        out.word_p5 = float(
            np.nanmean([precision_at_k(answers[p.q.qid], truth[p.q.qid]) for p in words])
        )
    heads = [p for p in prepared if p.q.kind == "headline"]
    if heads:
        rr = []
        for p in heads:
            answer = answers[p.q.qid][:10]
            rr.append(1.0 / (answer.index(p.q.target) + 1) if p.q.target in answer else 0.0)
        out.mrr10 = float(np.mean(rr))
        out.own_shown = float(np.mean([r > 0 for r in rr]))
    return out


# --- the model variants -----------------------------------------------------------------------
VARIANTS: dict[str, tuple[str, ...]] = {
    "logistic, all signals (shipped)": (),
    "logistic, cosine only": ("cosine",),
    "logistic, no term shares": ("cosine", "cosine_gap", "keyword_hit", "bm25_ratio",
                                 "keyword_rank", "query_terms", "story_size", "cosine_x_short"),
}  # fmt: skip


# Each kind of question weighs the same in training, headlines less: 500 dev headlines are
# easy (their own title is in the index) and would otherwise outweigh the 115 dev questions
# people ask. Chosen on dev (bench objective), with C below.
KIND_WEIGHT = {"topic": 1.0, "nothing": 1.0, "word": 1.0, "headline": 0.2}
C = 1.0


def training_pairs(
    prepared: Sequence[Prepared],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], npt.NDArray[np.float64]]:
    """Feature rows, labels and weights from dev questions: every candidate of a topic,
    nothing-held or one-word question is labelled; a headline gives its own story as a
    positive and stories sharing no corpus topic with it as negatives. Within a kind each
    question weighs the same; kinds weigh KIND_WEIGHT."""
    per_kind = {k: sum(p.q.kind == k for p in prepared) for k in KIND_WEIGHT}
    xs, ys, ws = [], [], []
    for p in prepared:
        if not len(p.x):
            continue
        keep = np.ones(len(p.x), dtype=bool)
        if p.q.kind == "headline":
            keep = p.labels | p.unrelated
        if not keep.any():
            continue
        xs.append(p.x[keep])
        ys.append(p.labels[keep])
        weight = KIND_WEIGHT[p.q.kind] / per_kind[p.q.kind] / keep.sum()
        ws.append(np.full(int(keep.sum()), weight))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fit(prepared: Sequence[Prepared], columns: tuple[str, ...] = ()) -> Any:
    """A logistic regression on the dev pairs (all FEATURES, or only `columns` with the
    others' coefficients zero)."""
    from sklearn.linear_model import LogisticRegression

    from knowledge.relevance import FEATURES, RelevanceModel

    x, y, w = training_pairs(prepared)
    use = [FEATURES.index(c) for c in columns] if columns else list(range(len(FEATURES)))
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    clf = LogisticRegression(C=C, max_iter=3000)
    clf.fit(z[:, use], y, sample_weight=w * len(w) / w.sum())
    coef = np.zeros(len(FEATURES))
    coef[use] = clf.coef_[0]
    return RelevanceModel(FEATURES, mean, scale, coef, float(clf.intercept_[0]), 0.5)


def tune_threshold(
    prepared: Sequence[Prepared],
    prob: dict[str, npt.NDArray[np.float64]],
    truth: dict[str, set[int]],
    about: dict[str, set[int]],
) -> tuple[float, Scores]:
    """The threshold with the best dev objective (ties: the lower threshold)."""
    best: tuple[float, float, Scores] | None = None
    for t in np.round(np.arange(0.05, 0.96, 0.01), 2):
        answers = {p.q.qid: by_probability(prob[p.q.qid], p, float(t)) for p in prepared}
        s = score(answers, prepared, truth, about)
        if best is None or s.objective() > best[0] + 1e-12:
            best = (s.objective(), float(t), s)
    assert best is not None
    return best[1], best[2]


def fit_gbm(prepared: Sequence[Prepared]) -> Any:
    """Gradient boosting on the same pairs (compared, not shipped: no plain-JSON form)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, w = training_pairs(prepared)
    clf = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=0)
    clf.fit(x, y, sample_weight=w * len(w) / w.sum())
    return clf


# --- the run ----------------------------------------------------------------------------------
def build(
    quick: bool = False,
) -> tuple[
    Engine, Corpus, list[Prepared], dict[str, Any], dict[str, set[int]], dict[str, set[int]]
]:
    """Open the full corpus DB, load the questions, prepare every question."""
    _, full = common.corpus_dbs()
    engine = Engine(full)
    rows = [*common.read_rows(common.ARTICLES), *common.read_rows(common.DISTRACTORS)]
    corpus = Corpus(engine, rows)
    questions, data = load_questions()
    questions += headline_questions(corpus, engine, QUICK_HEADLINES if quick else HEADLINES)
    common.log(f"relevance: preparing {len(questions)} questions")
    prepared = engine.prepare(questions, corpus, log_every=250)
    truth = {p.q.qid: corpus.relevant_stories(p.q) for p in prepared}
    about = {p.q.qid: corpus.about_stories(p.q) for p in prepared if p.q.kind == "word"}
    # headlines: stories sharing no corpus topic with the own article are sure negatives
    for p in prepared:
        if p.q.kind == "headline":
            own = {
                t for r in corpus.records.get(p.q.target or -1, []) for t in r.get("topics") or ()
            }
            p.unrelated = np.array(
                [
                    bool(own)
                    and not (
                        own
                        & {
                            t
                            for r in corpus.records.get(int(s), [])
                            for t in r.get("topics") or ()
                        }
                    )
                    for s in p.cands.story_ids.tolist()
                ],
                dtype=bool,
            )
    meta = {"data": data, "rows": rows, "missing": corpus.missing}
    return engine, corpus, prepared, meta, truth, about


def main(quick: bool = False) -> str:
    """Run the benchmark; return its markdown section."""
    from knowledge.relevance import RelevanceModel

    started = time.perf_counter()
    load_before = common.load_average()
    engine, corpus, prepared, meta, truth, about = build(quick)
    data = meta["data"]
    not_absent = check_nothing_held(data, meta["rows"])
    dev = [p for p in prepared if p.q.half == "dev"]
    test = [p for p in prepared if p.q.half == "test"]

    shipped = RelevanceModel.load()
    threshold = engine.searcher.tuning.threshold
    systems: dict[str, Callable[[Prepared], Answer]] = {
        "dense-only (no decision)": dense_only,
        "keyword-only, bm25 (no decision)": keyword_only,
        "before: 0.3 cosine + 0.7 bm25, floors 0.35/0.25": old_fusion,
        "RRF k=60 (no decision)": rrf,
    }
    rows_out = []
    results: dict[str, tuple[Scores, Scores, str]] = {}
    for name, fn in systems.items():
        answers = {p.q.qid: fn(p) for p in prepared}
        results[name] = (
            score(answers, dev, truth, about),
            score(answers, test, truth, about),
            "–",
        )
    for name, columns in VARIANTS.items():
        if name.endswith("(shipped)"):
            model, t = shipped, threshold
        else:
            model = fit(dev, columns)
            prob_dev = {p.q.qid: model.probability(p.x) for p in dev}
            t, _ = tune_threshold(dev, prob_dev, truth, about)
        answers = {p.q.qid: by_probability(model.probability(p.x), p, t) for p in prepared}
        results[name] = (
            score(answers, dev, truth, about),
            score(answers, test, truth, about),
            f"{t:.2f}",
        )
    gbm = fit_gbm(dev)
    prob_dev = {p.q.qid: gbm.predict_proba(p.x)[:, 1] if len(p.x) else np.zeros(0) for p in dev}
    t_gbm, _ = tune_threshold(dev, prob_dev, truth, about)
    answers = {
        p.q.qid: by_probability(
            gbm.predict_proba(p.x)[:, 1] if len(p.x) else np.zeros(0), p, t_gbm
        )
        for p in prepared
    }
    results["gradient boosting, all signals"] = (
        score(answers, dev, truth, about),
        score(answers, test, truth, about),
        f"{t_gbm:.2f}",
    )

    # the real code path: Searcher.search for every test question, as `ask` runs it
    real: dict[str, Answer] = {}
    t0 = time.perf_counter()
    for p in prepared:
        real[p.q.qid] = [r.story_id for r in engine.searcher.search(p.q.text)][:10]
    search_ms = 1000 * (time.perf_counter() - t0) / len(prepared)
    shipped_answers = {
        p.q.qid: by_probability(shipped.probability(p.x), p, threshold) for p in prepared
    }
    mismatch = sum(real[q] != shipped_answers[q] for q in real)
    results["Searcher.search (the code `ask` runs)"] = (
        score(real, dev, truth, about),
        score(real, test, truth, about),
        f"{threshold:.2f}",
    )

    dense_test = results["dense-only (no decision)"][1]
    ship_test = results["Searcher.search (the code `ask` runs)"][1]
    words_all_ok = ship_test.words_ok == ship_test.words_needed
    common.target(
        "relevance",
        "test half: mean precision@5 ≥ 0.90 and ≥ dense-only + 0.05 (natural topic questions)",
        f"{ship_test.p5:.3f} (dense-only {dense_test.p5:.3f})",
        ship_test.p5 >= 0.90 and ship_test.p5 >= dense_test.p5 + 0.05,
    )
    common.target(
        "relevance",
        "test half: ≥ 90% of nothing-held questions answered “nothing on that yet”",
        f"{ship_test.nothing_empty:.1%}",
        ship_test.nothing_empty >= 0.90,
    )
    common.target(
        "relevance",
        "test half: every one-word topic with ≥ 3 stories answers ≥ 3",
        f"{ship_test.words_ok}/{ship_test.words_needed}",
        words_all_ok,
    )

    def fmt(s: Scores) -> list[str]:
        return [
            f"{s.p5:.3f}",
            f"{s.nothing_empty:.1%}",
            f"{s.words_ok}/{s.words_needed}",
            f"{s.word_p5:.3f}",
            f"{s.mrr10:.3f}",
            f"{s.own_shown:.1%}",
        ]

    for name, (d, te, t) in results.items():
        rows_out.append([name, t, *fmt(te), f"{d.p5:.3f}", f"{d.nothing_empty:.1%}"])

    counts = {
        kind: (sum(p.q.kind == kind and p.q.half == "dev" for p in prepared),
               sum(p.q.kind == kind and p.q.half == "test" for p in prepared))
        for kind in ("topic", "nothing", "word", "headline")
    }  # fmt: skip
    out = ["## Relevance: what people ask (bench/bench_relevance.py)", ""]
    out.append(
        f"Store: the corpus DB (articles + distractors, {len(corpus.article_story):,} articles, "
        f"{len(set(corpus.article_story.values())):,} stories; {corpus.missing} stored articles "
        "not matched back to a corpus record). Questions (dev / test): "
        + ", ".join(f"{k} {a} / {b}" for k, (a, b) in counts.items())
        + ". Halves: ordered by a hash of the question id, first half dev. Thresholds and the "
        "model are fitted on dev only. Nothing-held questions whose terms the corpus does "
        f"contain: {', '.join(not_absent) or 'none'} (checked against every article and "
        "distractor). precision@5 = relevant stories in the first 5 over min(5, relevant "
        "stories held): answering nothing to a covered question costs. The old fusion runs "
        "with its own keyword query (every word OR-ed); the others share the new candidates "
        f"(dense top {CANDIDATES} + bm25 top {CANDIDATES} over the query's rarest words)."
    )
    out += ["", "### Test half (dev columns for reference)", ""]
    out.append(
        common.table(
            [
                "system",
                "threshold",
                "topic P@5",
                "nothing held → nothing",
                "one-word ≥ 3 answered",
                "one-word P@5",
                "headline MRR@10",
                "headline own story shown",
                "dev topic P@5",
                "dev nothing → nothing",
            ],
            rows_out,
        )
    )
    out += [
        "",
        f"`Searcher.search` agrees with the bench's emulation of the shipped model on "
        f"{len(real) - mismatch}/{len(real)} questions ({search_ms:.1f} ms per search, "
        "embedding included, one at a time).",
        "",
        "### Per question (test half, `Searcher.search`)",
        "",
    ]
    per = []
    for p in test:
        if p.q.kind == "headline":
            continue
        answer = real[p.q.qid]
        rel = truth[p.q.qid]
        top = corpus.first_title.get(answer[0], "?") if answer else "(nothing on that yet)"
        verdict = ""
        if p.q.kind == "topic":
            verdict = f"P@5 {precision_at_k(answer, rel):.2f}"
        elif p.q.kind == "nothing":
            verdict = "ok" if not answer else "**answered**"
        else:
            n_about = len(about[p.q.qid])
            verdict = f"{len(answer[:10])} shown, {n_about} about it" + (
                " **< 3**" if n_about >= 3 and len(answer) < 3 else ""
            )
        per.append([p.q.qid, p.q.kind, f"“{p.q.text}”", len(rel), len(answer), verdict, _cut(top)])
    out.append(
        common.table(
            [
                "id",
                "kind",
                "question",
                "relevant held",
                "answered (≤10)",
                "verdict",
                "first story",
            ],
            per,
        )
    )
    out += _hand_check(data, corpus, real, prepared)
    engine.close()
    out += common.footer(load_before, started)
    return "\n".join(out)


def _hand_check(
    data: dict[str, Any], corpus: Corpus, real: dict[str, Answer], prepared: Sequence[Prepared]
) -> list[str]:
    """Agreement of the labels with hand judgements recorded in the questions file."""
    checks = data.get("hand_checked", [])
    if not checks:
        return []
    by_id = {p.q.qid: p for p in prepared}
    agree, n = 0, 0
    rows = []
    for c in checks:
        p = by_id.get(c["id"])
        if p is None:
            continue
        story = next(
            (
                s
                for s in real.get(c["id"], [])
                if corpus.first_title.get(s, "").startswith(c["title_starts"])
            ),
            None,
        )
        if story is None:
            rows.append([c["id"], _cut(c["title_starts"]), "(not answered now)", "–"])
            continue
        label = story in corpus.relevant_stories(p.q)
        n += 1
        agree += label == c["relevant"]
        if label != c["relevant"]:
            rows.append(
                [c["id"], _cut(c["title_starts"]), "yes" if c["relevant"] else "no",
                 "yes" if label else "no"]
            )  # fmt: skip
    out = [
        "",
        f"Hand check: {n} (question, story) pairs from test-half answers (each topic "
        "question's first story, and the one nothing-held question answered) judged by "
        f"reading the story; the labels agree on {agree}/{n} ({agree / max(n, 1):.0%}). "
        "Disagreements:",
        "",
    ]
    out.append(
        common.table(["id", "story", "by hand", "label (topics + terms)"], rows)
        if rows
        else "(none)"
    )
    return out


def _cut(text: str, n: int = 70) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


if __name__ == "__main__":
    common.cli(main)
