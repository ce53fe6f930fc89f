"""The region taxonomy and the region classifier. Pure: no database, no Telegram.

The taxonomy (regions.toml beside this file) names the digest sections: each one's title, the
corpus topic labels that map to it and its place names. `sections_named_in` finds the sections a
question names. The classifier gives every story two decisions, computed once at ingest and
stored with the article:

- its sections: a one-vs-rest logistic regression per section over the story's stored embedding
  (MiniLM, title + summary), TF-IDF words of the title and lead, and counts of each section's
  place names in them; a section is labelled when its probability reaches its threshold;
- whether it is a regional development or not for a brief (non-Asia, sport, entertainment,
  lifestyle): one more logistic regression over the same features.

The coefficients live in regions_model.npz (numpy arrays only, loaded without pickle), fitted
reproducibly on the dev half of the shared corpus by bench/train_regions.py.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

TAXONOMY_FILE = Path(__file__).with_name("regions.toml")
MODEL_FILE = Path(__file__).with_name("regions_model.npz")
CATCH_ALL = "china"  # the section a story takes only when none of the others fits
LEAD_CHARS = 800  # the classifier reads the title and this much of the text
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Section:
    """One digest section of the taxonomy."""

    key: str  # stored with each article ("taiwan")
    title: str  # what readers see ("Taiwan Strait")
    labels: tuple[str, ...]  # the corpus topic labels that map to it
    places: tuple[str, ...]  # place names and aliases, matched case-insensitively
    exact: tuple[str, ...] = ()  # matched case-sensitively (acronyms that are words too)


def _pattern(names: Iterable[str]) -> str:
    alternatives = sorted({n.strip() for n in names if n.strip()}, key=len, reverse=True)
    body = "|".join(re.escape(n).replace(r"\ ", r"[\s\-]+") for n in alternatives)
    return rf"(?<![\w-])(?:{body})(?![\w-])" if body else r"(?!x)x"


def _spaced(name: str) -> str:
    return re.sub(r"[\s\-]+", " ", name.strip())


def _fold(name: str) -> str:
    return _spaced(name).casefold()


class Taxonomy:
    """The sections, in the order they take turns in, and the place names of each."""

    def __init__(
        self, sections: Sequence[Section], signals: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        if not sections:
            raise ValueError("the region taxonomy has no sections")
        self.signals: tuple[str, ...] = tuple(signals or {})
        self._signals = [
            re.compile(_pattern(words), re.IGNORECASE) for words in (signals or {}).values()
        ]
        self.sections: tuple[Section, ...] = tuple(sections)
        self.keys: tuple[str, ...] = tuple(s.key for s in sections)
        self.by_key = {s.key: s for s in sections}
        self.by_title = {s.title.casefold(): s for s in sections}
        self._by_label = {label: s.key for s in sections for label in s.labels}
        # One alternation over every section's places, longest first, so that a longer name
        # wins where names overlap ("Papua New Guinea" is not Indonesia's "Papua").
        self._owners: dict[str, list[int]] = {}
        self._exact: set[str] = set()
        names: list[str] = []
        for column, section in enumerate(self.sections):
            for name in (*section.places, *section.exact):
                self._owners.setdefault(_fold(name), []).append(column)
                names.append(name)
            self._exact.update(_fold(n) for n in section.exact)
        self._exact_forms = {_fold(n): n for s in self.sections for n in s.exact}
        self._places = re.compile(_pattern(names), re.IGNORECASE)

    def title(self, key: str) -> str:
        """A section's title from its key."""
        return self.by_key[key].title

    def key_of_title(self, title: str) -> str | None:
        """The key of the section with this title (any case), or None."""
        found = self.by_title.get(" ".join(title.split()).casefold())
        return found.key if found else None

    def sections_of_labels(self, labels: Iterable[str]) -> set[str]:
        """The sections that corpus topic labels map to."""
        return {self._by_label[label] for label in labels if label in self._by_label}

    def place_counts(self, text: str) -> list[int]:
        """How many times each section's places occur in `text`, in section order."""
        counts = [0] * len(self.sections)
        for match in self._places.finditer(text):
            key = _fold(match.group(0))
            if key in self._exact and _spaced(match.group(0)) != self._exact_forms[key]:
                continue  # "quad" is not the Quad
            for column in self._owners.get(key, ()):
                counts[column] += 1
        return counts

    def signal_counts(self, text: str) -> list[int]:
        """How many times each signal list's words occur in `text`, in [signals] order."""
        return [len(pattern.findall(text)) for pattern in self._signals]

    def sections_named_in(self, text: str) -> set[str]:
        """The keys of the sections whose title or places `text` names ("Fiji and Tonga" →
        {"australia_pacific"}); empty when it names none."""
        named = {key for key, n in zip(self.keys, self.place_counts(text), strict=True) if n}
        folded = " ".join(text.split()).casefold()
        named |= {s.key for s in self.sections if s.title.casefold() in folded}
        return named


def parse_taxonomy(text: str) -> Taxonomy:
    """A taxonomy from the TOML text of regions.toml; ValueError naming what is wrong."""
    data = tomllib.loads(text)
    sections = []
    for i, raw in enumerate(data.get("section", []), start=1):
        missing = [name for name in ("key", "title", "labels", "places") if name not in raw]
        if missing:
            raise ValueError(f"region section {i} lacks {', '.join(missing)}")
        sections.append(
            Section(
                key=str(raw["key"]),
                title=str(raw["title"]),
                labels=tuple(str(x) for x in raw["labels"]),
                places=tuple(str(x) for x in raw["places"]),
                exact=tuple(str(x) for x in raw.get("exact", ())),
            )
        )
    keys = [s.key for s in sections]
    if len(set(keys)) != len(keys):
        raise ValueError("region section keys repeat")
    signals = {str(k): [str(w) for w in v] for k, v in data.get("signals", {}).items()}
    return Taxonomy(sections, signals)


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    """The shipped taxonomy (regions.toml), read once."""
    return parse_taxonomy(TAXONOMY_FILE.read_text(encoding="utf-8"))


def sections_named_in(text: str) -> set[str]:
    """The keys of the shipped taxonomy's sections that `text` names."""
    return taxonomy().sections_named_in(text)


def lead_of(title: str, text: str) -> str:
    """What the classifier reads besides the embedding: the title and the start of the text."""
    return f"{title}\n{text[:LEAD_CHARS]}"


# --- features -------------------------------------------------------------------------------
_WORD = re.compile(r"(?u)\b\w\w+\b")


class Words:
    """TF-IDF of a fixed vocabulary (unigrams and bigrams, lower case, sublinear tf, l2), the
    transform scikit-learn's TfidfVectorizer applies, without keeping the vectorizer."""

    def __init__(self, vocabulary: Sequence[str], idf: npt.NDArray[np.float64]) -> None:
        self.index = {term: i for i, term in enumerate(vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.index)

    def transform(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """A dense (texts × vocabulary) matrix."""
        out = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        for row, text in enumerate(texts):
            tokens = _WORD.findall(text.lower())
            counts: dict[int, int] = {}
            for term in (*tokens, *(f"{a} {b}" for a, b in itertools.pairwise(tokens))):
                col = self.index.get(term)
                if col is not None:
                    counts[col] = counts.get(col, 0) + 1
            if not counts:
                continue
            cols = np.fromiter(counts, dtype=np.int64)
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64))) * self.idf[
                cols
            ]
            out[row, cols] = values / np.linalg.norm(values)
        return out


def place_features(tax: Taxonomy, titles: Sequence[str], leads: Sequence[str]) -> FloatArray:
    """Per section, then per signal list: log(1 + its words in the title) and log(1 + in the
    title and lead)."""
    width = len(tax.keys) + len(tax.signals)
    out = np.zeros((len(titles), 2 * width), dtype=np.float32)
    for row, (title, lead) in enumerate(zip(titles, leads, strict=True)):
        out[row, 0::2] = np.log1p(tax.place_counts(title) + tax.signal_counts(title))
        out[row, 1::2] = np.log1p(tax.place_counts(lead) + tax.signal_counts(lead))
    return out


def place_feature_count(tax: Taxonomy) -> int:
    """Columns place_features gives."""
    return 2 * (len(tax.keys) + len(tax.signals))


# --- the model ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RegionLabels:
    """A story's region decisions, as stored with it."""

    sections: tuple[str, ...]  # labelled section keys, strongest first (may be empty)
    section: str  # the strongest section, labelled or not
    regional: float  # probability of a regional development (vs not for a brief)
    for_brief: bool  # regional >= the model's threshold


@dataclass(frozen=True)
class RegionModel:
    """The fitted classifier: per-section and regional logistic regressions over one feature
    vector [embedding * w_embed, TF-IDF * w_words, place counts * w_places]."""

    keys: tuple[str, ...]
    vocabulary: tuple[str, ...]
    idf: npt.NDArray[np.float64]
    weights: npt.NDArray[np.float32]  # (features × sections)
    bias: npt.NDArray[np.float32]  # (sections,)
    thresholds: npt.NDArray[np.float32]  # (sections,)
    regional_weights: npt.NDArray[np.float32]  # (features × 2): Asia-Pacific, off-brief
    regional_bias: npt.NDArray[np.float32]  # (2,)
    regional_threshold: float
    scales: tuple[float, float, float]  # embedding, words, places
    info: str = ""  # how it was trained (JSON text)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_words", Words(self.vocabulary, self.idf))

    @property
    def signature(self) -> str:
        """A short hash of the coefficients: which model labelled a story."""
        digest = hashlib.sha256()
        for array in (self.weights, self.bias, self.thresholds, self.regional_weights):
            digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(np.ascontiguousarray(self.regional_bias).tobytes())
        digest.update(f"{self.regional_threshold}:{self.scales}".encode())
        return digest.hexdigest()[:12]

    def features(
        self, titles: Sequence[str], texts: Sequence[str], vectors: FloatArray
    ) -> FloatArray:
        """The feature matrix of these stories (vectors: their stored embeddings)."""
        leads = [lead_of(t, x) for t, x in zip(titles, texts, strict=True)]
        words: Words = object.__getattribute__(self, "_words")
        e, w, p = self.scales
        parts = [np.asarray(vectors, dtype=np.float32) * e]
        if len(words):
            parts.append(words.transform(leads) * w)
        parts.append(place_features(taxonomy_for(self.keys), titles, leads) * p)
        return np.hstack(parts).astype(np.float32)

    def probabilities(self, features: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(per-section probabilities (n × sections), regional probabilities (n,)): regional
        is P(about the Asia-Pacific) × (1 − P(sport, entertainment or lifestyle))."""
        sections = _sigmoid(features @ self.weights + self.bias)
        both = _sigmoid(features @ self.regional_weights + self.regional_bias)
        return sections, (both[:, 0] * (1.0 - both[:, 1])).astype(np.float32)

    def decide(self, sections: FloatArray, regional: FloatArray) -> list[RegionLabels]:
        """Labels from probabilities."""
        out = []
        # the catch-all section (China: Beijing's own news) is a story's strongest only when
        # none of the others is labelled; the eight name where a story happens
        catch_all = self.keys.index(CATCH_ALL) if CATCH_ALL in self.keys else -1
        for row, prob in zip(sections, regional, strict=True):
            rank = row.astype(np.float64).copy()
            if catch_all >= 0 and (np.delete(row >= self.thresholds, catch_all)).any():
                rank[catch_all] -= 2.0
            order = np.argsort(-rank, kind="stable")
            labelled = tuple(self.keys[i] for i in order if row[i] >= self.thresholds[i])
            out.append(
                RegionLabels(
                    sections=labelled,
                    section=self.keys[int(order[0])],
                    regional=round(float(prob), 4),
                    for_brief=bool(prob >= self.regional_threshold),
                )
            )
        return out

    def classify(
        self, titles: Sequence[str], texts: Sequence[str], vectors: FloatArray
    ) -> list[RegionLabels]:
        """Each story's labels, from its title, text and stored embedding."""
        if not titles:
            return []
        return self.decide(*self.probabilities(self.features(titles, texts, vectors)))

    def save(self, path: Path) -> None:
        """Write the model as a numpy .npz (no pickled objects)."""
        with path.open("wb") as handle:
            np.savez_compressed(
                handle,
                keys=np.array(self.keys),
                vocabulary=np.array(self.vocabulary),
                idf=self.idf.astype(np.float64),
                weights=self.weights.astype(np.float32),
                bias=self.bias.astype(np.float32),
                thresholds=self.thresholds.astype(np.float32),
                regional_weights=self.regional_weights.astype(np.float32),
                regional_bias=self.regional_bias.astype(np.float32),
                regional_threshold=np.array(self.regional_threshold, dtype=np.float64),
                scales=np.array(self.scales, dtype=np.float64),
                info=np.array(self.info),
            )


def _sigmoid(x: npt.NDArray[np.float32]) -> FloatArray:
    return (1.0 / (1.0 + np.exp(-np.clip(x, -40, 40)))).astype(np.float32)


def taxonomy_for(keys: Sequence[str]) -> Taxonomy:
    """The shipped taxonomy, checked to have these section keys in this order."""
    tax = taxonomy()
    if tuple(keys) != tax.keys:
        raise ValueError(
            f"the region model's sections {list(keys)} differ from regions.toml's "
            f"{list(tax.keys)}: re-train it with bench/train_regions.py"
        )
    return tax


def read_model(path: Path) -> RegionModel:
    """A model from an .npz written by RegionModel.save; ValueError when it is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            scales = data["scales"]
            return RegionModel(
                keys=tuple(str(k) for k in data["keys"]),
                vocabulary=tuple(str(t) for t in data["vocabulary"]),
                idf=data["idf"],
                weights=data["weights"],
                bias=data["bias"],
                thresholds=data["thresholds"],
                regional_weights=data["regional_weights"],
                regional_bias=data["regional_bias"],
                regional_threshold=float(data["regional_threshold"]),
                scales=(float(scales[0]), float(scales[1]), float(scales[2])),
                info=str(data["info"]),
            )
    except (OSError, KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"{path} is not a region model: {exc}") from exc


_shipped: list[RegionModel] = []
_shipped_lock = threading.Lock()


def shipped_model() -> RegionModel:
    """The model that ships beside this module, read once."""
    with _shipped_lock:
        if not _shipped:
            model = read_model(MODEL_FILE)
            taxonomy_for(model.keys)
            _shipped.append(model)
        return _shipped[0]
