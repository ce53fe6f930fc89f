"""The relevance model's parts: FTS5-exact stems, rarest-term keyword queries, features, the
shipped model file and the decision."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from knowledge.questions import Places, parse
from knowledge.relevance import (
    FEATURES,
    MODEL_FILE,
    MODEL_KEYS,
    Candidates,
    RelevanceModel,
    Stemmer,
    decide,
    features,
    query_terms,
)
from knowledge.search import keyword_query
from knowledge.text import query_tokens, query_words

ROOT = Path(__file__).resolve().parents[2]


def test_stems_are_the_ones_fts5_indexes() -> None:
    stems = Stemmer().stems(["countries", "reunification", "talks", "sao"])
    assert stems == {
        "countries": "countri",
        "reunification": "reunif",
        "talks": "talk",
        "sao": "sao",
    }


def test_tokens_split_like_unicode61() -> None:
    assert query_tokens("Kim Jong-Un's U.S. trip_2") == [
        "kim", "jong", "un", "s", "u", "s", "trip", "2",
    ]  # fmt: skip


def test_keyword_search_and_the_model_read_the_same_words() -> None:
    question = "What is the latest on Taiwan's trip_2 reunification?"
    assert query_words(question) == ["taiwan", "trip", "2", "reunification"]
    assert _terms(question, {}).words == tuple(query_words(question))
    assert keyword_query(question) == '"taiwan" OR "trip" OR "2" OR "reunification"'


def test_a_list_of_places_is_split_and_a_relation_is_found() -> None:
    places = Places(["Papua New Guinea", "Fiji", "Solomon Islands", "Japan", "South Korea"])
    listed = parse("Papua New Guinea, Fiji and the Solomon Islands", places)
    assert listed.parts == ("Papua New Guinea", "Fiji", "the Solomon Islands")
    assert not listed.relation
    relation = parse("Japan and South Korea relations", places)
    assert relation.parts == ("Japan", "South Korea") and relation.relation
    assert parse("trade and security", places).parts == ()  # no place: one topic
    assert parse("Taiwan reunification", places).parts == ()


def _terms(text: str, df: dict[str, int], n: int = 1000):  # type: ignore[no-untyped-def]
    return query_terms(text, Stemmer(), lambda stems: {s: df[s] for s in stems if s in df}, n)


def test_query_terms_drop_stopwords_and_weigh_rare_words_more() -> None:
    terms = _terms("What is the latest on Taiwan reunification?", {"taiwan": 80, "reunif": 3})
    assert terms.words == ("taiwan", "reunification")
    assert terms.idf[1] > terms.idf[0] > 0
    assert terms.unknown_share == 0.0


def test_keyword_query_keeps_the_rarest_words_the_store_holds() -> None:
    df = {"china": 900, "said": 800, "island": 40, "spratli": 4, "disput": 60}
    terms = _terms("China said the Spratly island dispute krill", df)
    assert terms.match(2) == '"spratly" OR "island"'  # in the question's order
    assert '"krill"' not in terms.match(10)  # no stored article has it: nothing to rank
    assert terms.unknown_share > 0.3  # a rare unseen word is a large share of the question


def test_a_query_of_stopwords_has_no_keyword_query() -> None:
    terms = _terms("what is the", {})
    assert terms.words == ()
    assert terms.match(8) == ""


def _cands(n: int) -> Candidates:
    return Candidates(
        story_ids=np.arange(1, n + 1, dtype=np.int64),
        cosine=np.linspace(0.7, 0.2, n),
        bm25=np.where(np.arange(n) % 2 == 0, -np.linspace(9.0, 1.0, n), 0.0),
        keyword_rank=np.where(np.arange(n) % 2 == 0, np.arange(n) // 2, -1).astype(np.float64),
        story_size=np.ones(n),
        in_dense=np.ones(n, dtype=bool),
        texts=[("Taiwan talks", "Reunification is discussed.")] + [("Other", "Nothing")] * (n - 1),
        times=np.arange(n, dtype=np.float64),
    )


def test_features_measure_term_shares_and_gaps() -> None:
    terms = _terms("Taiwan reunification", {"taiwan": 80, "reunif": 3})
    x = features(terms, _cands(4), Stemmer(), 50)
    col = {name: i for i, name in enumerate(FEATURES)}
    assert x.shape == (4, len(FEATURES))
    assert x[0, col["term_share"]] == pytest.approx(1.0)
    assert 0 < x[0, col["title_share"]] < 0.5  # only "Taiwan", the commoner word, is in the title
    assert x[1, col["term_share"]] == 0.0
    assert x[0, col["cosine_gap"]] == 0.0 and x[3, col["cosine_gap"]] > 0
    assert x[0, col["bm25_ratio"]] == pytest.approx(1.0) and x[1, col["keyword_hit"]] == 0


def test_shipped_model_loads_without_pickle_and_holds_only_what_is_read() -> None:
    model = RelevanceModel.load()
    assert model.features == FEATURES
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(MODEL_KEYS)  # no threshold: BRIEF_RELEVANCE_THRESHOLD is read
    config = tomllib.loads((ROOT / "config" / "default.toml").read_text(encoding="utf-8"))
    assert 0 < config["relevance_threshold"] < 1
    p = model.probability(np.zeros((2, len(FEATURES))))
    assert p.shape == (2,) and np.all((p > 0) & (p < 1))


def test_model_json_round_trips_and_a_mismatched_file_is_refused(tmp_path: Path) -> None:
    model = RelevanceModel.load()
    again = RelevanceModel.from_json(model.to_json())
    x = np.random.default_rng(0).normal(size=(5, len(FEATURES)))
    assert np.allclose(again.probability(x), model.probability(x))
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["features"] = data["features"][:-1]
    with pytest.raises(ValueError, match="features"):
        RelevanceModel.from_json(json.dumps(data))
    unread = json.loads(MODEL_FILE.read_text(encoding="utf-8")) | {"threshold": 0.5}
    with pytest.raises(ValueError, match="nothing reads"):
        RelevanceModel.from_json(json.dumps(unread))


def test_decide_keeps_what_reaches_the_threshold_most_probable_first() -> None:
    cands = _cands(4)
    kept = decide(np.array([0.2, 0.9, 0.6, 0.6]), cands, 0.5)
    assert [k[0] for k in kept] == [2, 4, 3]  # equal probabilities: the newer story first
    assert decide(np.array([0.1, 0.2, 0.3, 0.4]), cands, 0.5) == []
