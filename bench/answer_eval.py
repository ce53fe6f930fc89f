"""The answers eval: bench/answer_questions.json, 250 questions of ten forms (one word, 2-4 word
topics, "X and Y", lists of places, "what is happening in X", relations between two countries,
questions with a verb, places inside a section, regions, and things the store does not hold),
judged from the corpus's labels plus each question's own terms. bench_relevance.py reports it
per form on the test half; bench/train_relevance.py fits on its dev half.

Halves: a question is dev when sha256(its id) starts with 0-7, test otherwise; a corpus item is
dev when sha256(str(its id)) starts with 0-7 (the project's fixed split).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import common
import numpy as np

QUESTIONS = common.BENCH / "answer_questions.json"
FORMS = (
    "one_word", "topic", "and", "list", "happening", "relation", "verb", "inside", "region",
    "nothing",
)  # fmt: skip
LEAD_CHARS = 800  # the corpus filter judged the title and the first 800 characters
K = 5
SHOWN = 10  # a brief's first page and the next: what coverage and "≥ 3 shown" look at

# Not for a brief: sport, entertainment and lifestyle (the corpus's `category`, where a dataset
# has one) and, for every item, sport or showbiz words in the title or lead.
NOT_BRIEF_CATEGORIES = frozenset(
    {
        "sports", "sport", "entertainment", "comedy", "weird news", "wellness", "style & beauty",
        "style", "arts & culture", "arts", "culture & arts", "food & drink", "taste", "travel",
        "home & living", "parenting", "parents", "weddings", "divorce", "good news", "fifty",
        "queer voices",
    }
)  # fmt: skip
_SHOWBIZ = re.compile(
    r"(?<![\w-])(?:cricket\w*|rugby|soccer|football\w*|tennis|golf\w*|olympic\w*|paralympic\w*|"
    r"world cup|grand prix|formula one|wickets?|innings|batsm[ae]n|bowlers?|test match\w*|"
    r"one-day|twenty20|t20|semi-?finals?|quarter-?finals?|goalkeeper|striker|midfielder|"
    r"medals?|medallist|swimm\w+|marathon|boxing|boxer|badminton|hockey|all blacks|wallabies|"
    r"socceroos|nba|nfl|baseball|sumo|box office|film\w*|movies?|actor|actress|singer|"
    r"pop star|album|celebrit\w+|hollywood|bollywood|k-pop|concert|fashion|recipes?|"
    r"pageant|miss universe|grand slam|open champion\w*)(?![\w-])",
    re.IGNORECASE,
)


def half_of(key: str) -> str:
    """'dev' when sha256(key) starts with 0-7, else 'test' (questions by id, items by str(id))."""
    return "dev" if hashlib.sha256(key.encode()).hexdigest()[0] in "01234567" else "test"


def _labels(value: Any) -> list[str]:
    """The corpus stores list fields as Python-literal strings ("['japan']") or lists."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if not value or value == "None":
        return []
    return re.findall(r"'([^']*)'", str(value))


def _words_rx(patterns: Iterable[str]) -> re.Pattern[str]:
    body = "|".join(f"(?:{p})" for p in patterns)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def lead(row: dict[str, Any]) -> str:
    """Title and the first LEAD_CHARS of the text."""
    return f"{row.get('title') or ''}\n{(row.get('text') or '')[:LEAD_CHARS]}"


def for_brief(row: dict[str, Any]) -> bool:
    """Not sport, entertainment or lifestyle (by category, and by words in the lead)."""
    category = str(row.get("category") or "").strip().lower()
    return category not in NOT_BRIEF_CATEGORIES and not _SHOWBIZ.search(lead(row))


@dataclass
class Part:
    """One part of a question: a place, a relation between two places, a section, or terms."""

    topics: frozenset[str] = frozenset()
    place: re.Pattern[str] | None = None
    with_place: re.Pattern[str] | None = None
    all: tuple[re.Pattern[str], ...] = ()

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether this corpus record is plainly about the part (and for a brief)."""
        if not for_brief(row):
            return False
        if self.topics and not self.topics & set(_labels(row.get("topics"))):
            return False
        head = lead(row)
        if self.place is not None and not self.place.search(head):
            return False
        if self.with_place is not None and not self.with_place.search(head):
            return False
        whole = f"{row.get('title') or ''}\n{row.get('text') or ''}"
        return all(p.search(whole) for p in self.all)


@dataclass
class Question:
    """A question of one form, its half and its parts (none: nothing held)."""

    qid: str
    form: str
    text: str
    half: str
    parts: list[Part] = field(default_factory=list)
    absent: tuple[str, ...] = ()


def load() -> tuple[list[Question], dict[str, Any]]:
    """The questions, with their halves and parts."""
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    places = {name: _words_rx(names) for name, names in data["places"].items()}
    out = []
    for q in data["questions"]:
        parts = [
            Part(
                topics=frozenset(p.get("topics", ())),
                place=places[p["place"]] if "place" in p else None,
                with_place=places[p["with"]] if "with" in p else None,
                all=tuple(re.compile(a, re.IGNORECASE) for a in p.get("all", ())),
            )
            for p in q.get("parts", ())
        ]
        out.append(
            Question(
                q["id"], q["form"], q["text"], half_of(q["id"]), parts, tuple(q.get("absent", ()))
            )
        )
    return out, data


def check_absent(questions: Sequence[Question], rows: Sequence[dict[str, Any]]) -> list[str]:
    """Nothing-held questions whose `absent` terms do occur in the corpus (should be none)."""
    texts = [f"{r.get('title') or ''}\n{r.get('text') or ''}" for r in rows]
    bad = []
    for q in questions:
        for pattern in q.absent:
            rx = _words_rx([pattern])
            if any(rx.search(t) for t in texts):
                bad.append(f"{q.qid} ({pattern})")
    return bad


@dataclass
class Truth:
    """For each question: the relevant stories, and per part the stories about it."""

    relevant: dict[str, set[int]]
    parts: dict[str, list[set[int]]]


def judge(questions: Sequence[Question], records: dict[int, list[dict[str, Any]]]) -> Truth:
    """Relevant stories from the labels: a story is relevant when one of its records matches
    one of the question's parts."""
    relevant: dict[str, set[int]] = {}
    parts: dict[str, list[set[int]]] = {}
    for q in questions:
        per = [
            {s for s, recs in records.items() if any(p.matches(r) for r in recs)} for p in q.parts
        ]
        parts[q.qid] = per
        relevant[q.qid] = set().union(*per) if per else set()
    return Truth(relevant, parts)


def precision_at_k(answer: Sequence[int], relevant: set[int]) -> float:
    """Relevant among the first K over min(K, relevant held): abstaining costs."""
    denominator = min(K, len(relevant))
    if not denominator:
        return float("nan")
    return sum(s in relevant for s in answer[:K]) / denominator


@dataclass
class FormScores:
    """One form's numbers on one half."""

    questions: int = 0
    p5: float = float("nan")
    p5_min: float = float("nan")  # the worst question's P@5
    big: int = 0  # questions with ≥ 5 relevant stories held
    big_ok: int = 0  # ...of which ≥ 3 shown
    parts: int = 0  # parts (of multi-part questions) with a relevant story held
    parts_covered: int = 0  # ...with one in the first SHOWN
    nothing: int = 0
    nothing_ok: int = 0


def score(
    answers: dict[str, list[int]], questions: Sequence[Question], truth: Truth
) -> dict[str, FormScores]:
    """Per form (and "all"): P@5, ≥ 3 shown where ≥ 5 held, part coverage, nothing → nothing."""
    out: dict[str, FormScores] = {}
    for form in (*FORMS, "all"):
        qs = [q for q in questions if form in ("all", q.form)]
        s = FormScores(questions=len(qs))
        p5s = [precision_at_k(answers[q.qid], truth.relevant[q.qid]) for q in qs if q.parts]
        p5s = [p for p in p5s if p == p]
        if p5s:
            s.p5, s.p5_min = float(np.mean(p5s)), float(min(p5s))
        for q in qs:
            shown = answers[q.qid][:SHOWN]
            if not q.parts:
                s.nothing += 1
                s.nothing_ok += not answers[q.qid]
                continue
            if len(truth.relevant[q.qid]) >= 5:
                s.big += 1
                s.big_ok += sum(a in truth.relevant[q.qid] for a in shown) >= 3
            if len(q.parts) > 1:
                for part in truth.parts[q.qid]:
                    if part:
                        s.parts += 1
                        s.parts_covered += any(a in part for a in shown)
        out[form] = s
    return out


# --- the section in bench_relevance.py ---------------------------------------------------------
def run(
    engine: Any, records: dict[int, list[dict[str, Any]]], questions: Sequence[Question]
) -> tuple[dict[str, list[int]], dict[str, list[int]], float]:
    """(Searcher.search answers, dense-only answers, ms per search) for every question."""
    import time

    s = engine.searcher
    real: dict[str, list[int]] = {}
    started = time.perf_counter()
    for q in questions:
        real[q.qid] = [r.story_id for r in s.search(q.text)][: 2 * SHOWN]
    per_search = 1000 * (time.perf_counter() - started) / max(len(questions), 1)
    dense: dict[str, list[int]] = {}
    vectors = common.embedder().encode([q.text for q in questions])
    for q, vector in zip(questions, vectors, strict=True):
        _, cands = s.candidates(q.text, vector)
        order = np.argsort(-cands.cosine, kind="stable")
        dense[q.qid] = [
            int(sid)
            for sid, in_dense in zip(
                cands.story_ids[order].tolist(), cands.in_dense[order].tolist(), strict=True
            )
            if in_dense
        ][:SHOWN]
    return real, dense, per_search


def _f(value: float) -> str:
    return "–" if value != value else f"{value:.3f}"


def section(engine: Any, corpus: Any, rows: Sequence[dict[str, Any]]) -> list[str]:
    """The markdown section: per-form table on the test half, targets, hand check."""
    questions, data = load()
    bad = check_absent(questions, rows)
    truth = judge(questions, corpus.records)
    real, dense, per_search = run(engine, corpus.records, questions)
    test = [q for q in questions if q.half == "test"]
    dev = [q for q in questions if q.half == "dev"]
    got, base, got_dev = (
        score(real, test, truth),
        score(dense, test, truth),
        score(real, dev, truth),
    )
    first_ok = {}
    for form in (*FORMS, "all"):
        firsts = [
            real[q.qid][0] for q in test if form in ("all", q.form) and q.parts and real[q.qid]
        ]
        brief = [any(for_brief(r) for r in corpus.records.get(s, [])) for s in firsts]
        first_ok[form] = f"{sum(brief)}/{len(brief)}" if brief else "–"
    rows_out = []
    for form in (*FORMS, "all"):
        s, b, d = got[form], base[form], got_dev[form]
        rows_out.append(
            [
                form,
                s.questions,
                _f(s.p5),
                _f(s.p5_min),
                f"{s.big_ok}/{s.big}" if s.big else "–",
                f"{s.parts_covered}/{s.parts}" if s.parts else "–",
                f"{s.nothing_ok}/{s.nothing}" if s.nothing else "–",
                first_ok[form],
                _f(b.p5),
                _f(d.p5),
            ]
        )
    all_t = got["all"]
    worst = min((got[f].p5 for f in FORMS if got[f].p5 == got[f].p5), default=float("nan"))
    common.target(
        "relevance",
        "answers, test half: precision@5 ≥ 0.90 for every question form",
        f"lowest form {worst:.3f} (all {all_t.p5:.3f})",
        worst >= 0.90,
    )
    big_rate = all_t.big_ok / all_t.big if all_t.big else float("nan")
    common.target(
        "relevance",
        "answers, test half: ≥ 3 relevant shown for ≥ 95% of questions with ≥ 5 held",
        f"{all_t.big_ok}/{all_t.big} ({big_rate:.1%})",
        big_rate >= 0.95,
    )
    nothing_rate = all_t.nothing_ok / all_t.nothing if all_t.nothing else float("nan")
    common.target(
        "relevance",
        "answers, test half: ≥ 90% of nothing-held questions answered “nothing on that yet”",
        f"{all_t.nothing_ok}/{all_t.nothing} ({nothing_rate:.1%})",
        nothing_rate >= 0.90,
    )
    out = [
        "",
        "### Answers by question form (bench/answer_questions.json, test half)",
        "",
        f"{len(questions)} questions ({len(dev)} dev / {len(test)} test, by sha256 of the id), "
        "written before the model was re-fitted; relevance from the corpus labels and each "
        "question's terms (see the file's `about`). P@5 = relevant in the first 5 over "
        f"min(5, relevant held). “≥ 3 of ≥ 5”: questions with ≥ 5 relevant stories held that "
        f"show ≥ 3 relevant in the first {SHOWN}. Parts covered: each part of a multi-part "
        f"question with a relevant story held that has one in the first {SHOWN}. First story "
        "for a brief: the first story is not sport, entertainment or lifestyle. Nothing-held "
        f"terms found in the corpus: {', '.join(bad) or 'none'}. `Searcher.search` "
        f"{per_search:.1f} ms per question (one at a time, embedding included).",
        "",
        common.table(
            [
                "form",
                "test questions",
                "P@5",
                "worst P@5",
                "≥ 3 of ≥ 5",
                "parts covered",
                "nothing → nothing",
                "first story for a brief",
                "dense-only P@5",
                "dev P@5",
            ],
            rows_out,
        ),
        "",
        "Per question (test half):",
        "",
    ]
    per = []
    for q in test:
        answer = real[q.qid]
        rel = truth.relevant[q.qid]
        top = corpus.first_title.get(answer[0], "?") if answer else "(nothing on that yet)"
        verdict = (
            ("ok" if not answer else "**answered**")
            if not q.parts
            else f"P@5 {_f(precision_at_k(answer, rel))}"
        )
        per.append([q.qid, q.form, f"“{q.text}”", len(rel), len(answer), verdict, _cut(top)])
    out.append(
        common.table(
            [
                "id",
                "form",
                "question",
                "relevant held",
                "answered (≤ 20)",
                "verdict",
                "first story",
            ],
            per,
        )
    )
    out += _hand_check(data, corpus, real, questions, truth)
    return out


def _hand_check(
    data: dict[str, Any],
    corpus: Any,
    real: dict[str, list[int]],
    questions: Sequence[Question],
    truth: Truth,
) -> list[str]:
    """Agreement of the labels with (question, story) pairs judged by reading the story."""
    checks = data.get("hand_checked", [])
    if not checks:
        return []
    agree, n, missing = 0, 0, 0
    rows = []
    for c in checks:
        story = next(
            (
                s
                for s in real.get(c["id"], [])
                if corpus.first_title.get(s, "").startswith(c["title_starts"])
            ),
            None,
        )
        if story is None:
            missing += 1
            continue
        label = story in truth.relevant[c["id"]]
        n += 1
        agree += label == c["relevant"]
        if label != c["relevant"]:
            rows.append(
                [c["id"], _cut(c["title_starts"]), "yes" if c["relevant"] else "no",
                 "yes" if label else "no"]
            )  # fmt: skip
    return [
        "",
        f"Hand check: {len(checks)} (question, story) pairs from test-half answers, judged by "
        f"reading the story; {n} are still answered, and the labels agree on {agree}/{n} "
        f"({agree / max(n, 1):.0%}). Disagreements:",
        "",
        common.table(["id", "story", "by hand", "label"], rows) if rows else "(none)",
    ]


def _cut(text: str, n: int = 70) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return text if len(text) <= n else text[: n - 1] + "…"


def main(quick: bool = False) -> str:
    """This section alone (bench_relevance.py runs it with the rest)."""
    import time

    import bench_relevance as br

    started, load_before = time.perf_counter(), common.load_average()
    _, full = common.corpus_dbs()
    engine = br.Engine(full)
    rows = [*common.read_rows(common.ARTICLES), *common.read_rows(common.DISTRACTORS)]
    corpus = br.Corpus(engine, rows)
    try:
        out = section(engine, corpus, rows)
    finally:
        engine.close()
    return "\n".join([*out, *common.footer(load_before, started)])


if __name__ == "__main__":
    common.cli(main)
