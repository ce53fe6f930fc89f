"""Re-train the shipped relevance model (knowledge/relevance_model.json) from ../shared/data.

Imports the corpus (articles + distractors) with the real model into the bench cache (see
bench/common.py), takes the dev half of bench/relevance_questions.json plus dev-half headline
queries, labels every candidate (the corpus's topic labels and each question's terms), fits a
logistic regression over knowledge/relevance.FEATURES and picks the threshold with the best dev
objective. Deterministic: the same data and code give the same file.

Run: .venv/bin/python bench/train_relevance.py [--check]   (--check: compare, do not write)
"""

from __future__ import annotations

import argparse
import sys

import bench_relevance as br
import common


def train(quick: bool = False) -> tuple[str, str]:
    """(the model as JSON, a summary line)."""
    import dataclasses

    engine, _corpus, prepared, _meta, truth, about = br.build(quick)
    engine.close()
    dev = [p for p in prepared if p.q.half == "dev"]
    model = br.fit(dev)
    prob = {p.q.qid: model.probability(p.x) for p in dev}
    threshold, scores = br.tune_threshold(dev, prob, truth, about)
    counts = {k: sum(p.q.kind == k for p in dev) for k in ("topic", "nothing", "word", "headline")}
    _, y, _ = br.training_pairs(dev)
    info = {
        "trained_by": "bench/train_relevance.py",
        "data": "../shared/data/news_asia_pacific (articles + distractors)",
        "dev_questions": counts,
        "pairs": len(y),
        "positives": int(y.sum()),
        "dev": {
            "topic_p5": round(scores.p5, 4),
            "nothing_empty": round(scores.nothing_empty, 4),
            "one_word_ok": f"{scores.words_ok}/{scores.words_needed}",
            "headline_own_shown": round(scores.own_shown, 4),
        },
    }
    model = dataclasses.replace(model, threshold=threshold, info=info)
    summary = (
        f"threshold {threshold:.2f}; dev: topic P@5 {scores.p5:.3f}, nothing → nothing "
        f"{scores.nothing_empty:.1%}, one-word {scores.words_ok}/{scores.words_needed}, "
        f"headline own story shown {scores.own_shown:.1%}; {len(y)} pairs"
    )
    return model.to_json() + "\n", summary


def main() -> int:
    """Train, then write (or with --check compare) knowledge/relevance_model.json."""
    from knowledge.relevance import MODEL_FILE

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the shipped file")
    args = parser.parse_args()
    text, summary = train()
    common.log(f"train_relevance: {summary}")
    if args.check:
        same = MODEL_FILE.exists() and MODEL_FILE.read_text(encoding="utf-8") == text
        print("the shipped model matches" if same else "the shipped model differs")
        return 0 if same else 1
    MODEL_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {MODEL_FILE} ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
