"""The classifier stage: small, fast quality classifiers with thresholds (fastText-style).

Qwen2.5-Coder filtered coarse-to-fine with small classifiers; the models are not published,
so this stage is pluggable. A classifier is anything with ``name`` and
``score(text) -> float`` (the probability that the text is good); the stage drops documents
scoring under each classifier's threshold and counts them.

Built in:

- ``HashedNgramClassifier``: fastText's supervised model for two labels (mean of hashed word
  uni/bigram embeddings -> linear -> sigmoid), trained with SGD in numpy and saved as .npz.
  ``qwenpair train classifier`` fits one from good and bad sources.
- ``FastTextClassifier``: a real fastText model file (.bin/.ftz) when the ``fasttext``
  package is installed.
- ``module:attr``: any importable factory or object with ``score``.

Specs on the command line: ``PATH_OR_MODULE[@THRESHOLD]`` (threshold 0.5 by default).
"""

from __future__ import annotations

import importlib
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from training.data.sources import Document
from training.errors import DataError

_WORD = re.compile(r"\w+|[^\w\s]")


@runtime_checkable
class QualityClassifier(Protocol):
    name: str

    def score(self, text: str) -> float:
        """Probability in [0, 1] that ``text`` is good training data."""
        ...


class HashedNgramClassifier:
    """fastText's supervised architecture for a good/bad label, in numpy."""

    def __init__(self, buckets: int = 1 << 18, dim: int = 16, ngrams: int = 2, max_tokens: int = 2_000, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.name = "hashed-ngram"
        self.buckets, self.dim, self.ngrams, self.max_tokens = buckets, dim, ngrams, max_tokens
        self.emb = rng.uniform(-1.0 / dim, 1.0 / dim, size=(buckets, dim)).astype(np.float32)
        self.w = np.zeros(dim, dtype=np.float32)
        self.b = np.float32(0.0)

    def features(self, text: str) -> np.ndarray:
        words = _WORD.findall(text.lower())[: self.max_tokens]
        grams = list(words)
        for n in range(2, self.ngrams + 1):
            grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        if not grams:
            grams = [""]
        return np.fromiter((zlib.crc32(g.encode()) % self.buckets for g in grams), dtype=np.int64, count=len(grams))

    def score(self, text: str) -> float:
        h = self.emb[self.features(text)].mean(axis=0)
        return float(1.0 / (1.0 + np.exp(-(h @ self.w + self.b))))

    def fit(self, texts: list[str], labels: list[int], *, epochs: int = 5, lr: float = 0.5, seed: int = 0) -> list[float]:
        """SGD over the examples (shuffled each epoch, classes weighted to balance);
        returns the mean log-loss per epoch."""
        feats = [self.features(t) for t in texts]
        y = np.asarray(labels, dtype=np.float32)
        n_good = float(y.sum())
        weight = {1.0: len(y) / (2 * max(1.0, n_good)), 0.0: len(y) / (2 * max(1.0, len(y) - n_good))}
        rng = np.random.default_rng(seed)
        losses = []
        for epoch in range(epochs):
            step_lr = lr * (1.0 - epoch / epochs)  # fastText decays the rate linearly
            total = 0.0
            for i in rng.permutation(len(feats)):
                ids = feats[i]
                h = self.emb[ids].mean(axis=0)
                p = 1.0 / (1.0 + np.exp(-(h @ self.w + self.b)))
                total += -np.log(max(p if y[i] else 1.0 - p, 1e-12))
                g = (p - y[i]) * weight[float(y[i])]
                grad_h = g * self.w
                self.w -= step_lr * g * h
                self.b -= step_lr * g
                np.add.at(self.emb, ids, -step_lr * grad_h / len(ids))
            losses.append(total / max(1, len(feats)))
        return losses

    def save(self, path: Path) -> None:
        from training.atomic import atomic_open

        with atomic_open(Path(path), "wb") as fh:
            np.savez(fh, emb=self.emb, w=self.w, b=np.float32(self.b),
                     meta=np.array([self.buckets, self.dim, self.ngrams, self.max_tokens]))

    @classmethod
    def load(cls, path: Path) -> HashedNgramClassifier:
        with np.load(path) as z:
            buckets, dim, ngrams, max_tokens = (int(v) for v in z["meta"])
            clf = cls(buckets=1, dim=dim, ngrams=ngrams, max_tokens=max_tokens)
            clf.buckets, clf.emb, clf.w, clf.b = buckets, z["emb"], z["w"], np.float32(z["b"])
        clf.name = Path(path).name
        return clf


class FastTextClassifier:
    """A fastText supervised model; the score is the probability of ``good_label``."""

    def __init__(self, path: Path, good_label: str = "__label__good"):
        try:
            import fasttext  # optional: pip install fasttext
        except ImportError as exc:
            raise DataError(f"{path} is a fastText model, but the fasttext package is not installed: pip install fasttext") from exc
        self.model = fasttext.load_model(str(path))
        self.name, self.good_label = Path(path).name, good_label

    def score(self, text: str) -> float:
        labels, probs = self.model.predict(text.replace("\n", " "), k=-1)
        return float(dict(zip(labels, probs)).get(self.good_label, 0.0))


def load_classifier(spec: str) -> QualityClassifier:
    """A classifier from a path (.npz, .bin, .ftz) or ``module:attr``."""
    path = Path(spec)
    if path.suffix == ".npz":
        if not path.is_file():
            raise DataError(f"classifier {spec} does not exist")
        return HashedNgramClassifier.load(path)
    if path.suffix in (".bin", ".ftz"):
        if not path.is_file():
            raise DataError(f"classifier {spec} does not exist")
        return FastTextClassifier(path)
    module, sep, attr = spec.partition(":")
    if not sep:
        raise DataError(f"classifier {spec!r}: give a .npz or fastText .bin file, or module:attr")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise DataError(f"classifier {spec!r} cannot be imported: {exc}") from exc
    clf = obj() if isinstance(obj, type) or (callable(obj) and not isinstance(obj, QualityClassifier)) else obj
    if not isinstance(clf, QualityClassifier):
        raise DataError(f"classifier {spec!r} has no name and score(text) -> float")
    return clf


def parse_spec(spec: str) -> tuple[str, float]:
    """``SPEC@THRESHOLD`` -> (SPEC, THRESHOLD); the threshold defaults to 0.5."""
    head, sep, tail = spec.rpartition("@")
    if sep:
        try:
            return head, float(tail)
        except ValueError:
            pass
    return spec, 0.5


@dataclass
class ClassifierStage:
    """Drops documents scoring under any classifier's threshold (applied in order)."""

    classifiers: list[tuple[QualityClassifier, float]]
    kinds: frozenset[str] = frozenset({"code", "text", "math"})
    removed: Counter = field(default_factory=Counter)
    scored: Counter = field(default_factory=Counter)

    @classmethod
    def from_specs(cls, specs: list[str]) -> ClassifierStage:
        pairs = []
        for spec in specs:
            path, threshold = parse_spec(spec)
            pairs.append((load_classifier(path), threshold))
        return cls(pairs)

    def keep(self, doc: Document) -> bool:
        if doc.kind not in self.kinds:
            return True
        for clf, threshold in self.classifiers:
            self.scored[clf.name] += 1
            if clf.score(doc.text) < threshold:
                self.removed[clf.name] += 1
                return False
        return True
