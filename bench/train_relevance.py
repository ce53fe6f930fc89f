"""Re-train the shipped relevance model (knowledge/relevance_model.json) from ../shared/data.

Imports the corpus (articles + distractors) with the real model into the bench cache (see
bench/common.py), takes the dev half of bench/relevance_questions.json and
bench/answer_questions.json plus dev-half headline queries, labels every candidate (the
corpus's labels and each question's terms), fits a logistic regression over
knowledge/relevance.FEATURES on the candidates whose corpus items are in the dev half of the
fixed split, and picks the threshold with the best dev objective (printed: it is the setting
BRIEF_RELEVANCE_THRESHOLD, not part of the file). Deterministic: the same data and code give
the same file.

Run: .venv/bin/python bench/train_relevance.py [--check]   (--check: compare, do not write)
"""

from __future__ import annotations

import argparse
import sys

import bench_relevance as br
import common


def train(quick: bool = False) -> tuple[str, float, str]:
    """(the model as JSON, the dev threshold, a summary line)."""
    engine, _corpus, prepared, _meta, truth, about = br.build(quick)
    engine.close()
    dev = [p for p in prepared if p.q.half == "dev"]
    model = br.fit(dev)
    prob = {p.q.qid: model.probability(p.x) for p in dev}
    threshold, scores = br.tune_threshold(dev, prob, truth, about)
    _, y, _ = br.training_pairs(dev)
    counts = {k: sum(p.q.kind == k for p in dev) for k in br.KIND_WEIGHT}
    summary = (
        f"threshold {threshold:.2f} (BRIEF_RELEVANCE_THRESHOLD); dev: topic P@5 "
        f"{scores.p5:.3f}, form P@5 {scores.form_p5:.3f}, nothing → nothing "
        f"{scores.nothing_empty:.1%}, one-word {scores.words_ok}/{scores.words_needed}, "
        f"headline own story shown {scores.own_shown:.1%}; {len(y)} pairs "
        f"({int(y.sum())} positive) from dev questions {counts} over dev items"
    )
    return model.to_json() + "\n", threshold, summary


def main() -> int:
    """Train, then write (or with --check compare) knowledge/relevance_model.json; the
    threshold goes in config/default.toml by hand (a setting, not part of the model)."""
    from knowledge.relevance import MODEL_FILE
    from knowledge.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    text, threshold, summary = train()
    common.log(f"train_relevance: {summary}")
    configured = load_settings(db=common.CACHE / "unused.db").relevance_threshold
    if args.check:
        same = MODEL_FILE.exists() and MODEL_FILE.read_text(encoding="utf-8") == text
        same_t = abs(configured - threshold) < 1e-9
        print("the shipped model matches" if same else "the shipped model differs")
        print(f"threshold: dev {threshold:.2f}, config/default.toml {configured:.2f}")
        return 0 if same and same_t else 1
    MODEL_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {MODEL_FILE} ({summary})")
    if abs(configured - threshold) >= 1e-9:
        print(f"set relevance_threshold = {threshold:.2f} in config/default.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
