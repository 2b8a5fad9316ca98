"""The fitted scorer and answer decision: linear functions of named features, read from JSON.

``bot/data/ranking-model.json`` holds two fits, one for an index with sentence vectors
(``meaning``) and one for words alone (``words``): while vectors are missing, or the model is off,
the words-only fit ranks. Each fit has

- ``scorer``: a weight per feature; a candidate's score is the weighted sum;
- ``confidence``: a logistic model over the candidate's score and a few question-level features,
  the estimated probability that the passage answers; ``threshold`` is the cut chosen for the
  false-answer rate recorded beside it.

Nothing is pickled: the file is plain JSON written by :mod:`bot.ranking.fit`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from bot.errors import BotError

MODEL_FILE = "ranking-model.json"


@dataclass(frozen=True)
class Linear:
    """Weights over named features, plus a bias."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float = 0.0

    def __call__(self, x: np.ndarray, columns: tuple[str, ...] | None = None) -> np.ndarray:
        """The weighted sum for each row of `x`, whose columns are `columns` (default: `features`).

        A feature the model does not know weighs 0, and one `x` lacks counts as 0.
        """
        return x @ self.weights_for(columns or self.features) + self.bias

    def weights_for(self, columns: tuple[str, ...]) -> np.ndarray:
        """The weights in the order of `columns`."""
        if columns == self.features:
            return self.weights
        known = dict(zip(self.features, self.weights.tolist()))
        return np.array([known.get(name, 0.0) for name in columns])

    def contributions(self, row: np.ndarray, columns: tuple[str, ...] | None = None) -> list[tuple[str, float, float]]:
        """(feature, value, value x weight) for one row (columns: `columns`), largest contribution first."""
        columns = columns or self.features
        parts = [(name, float(v), float(v * w)) for name, v, w in zip(columns, row, self.weights_for(columns))]
        return sorted(parts, key=lambda p: -abs(p[2]))

    def to_json(self) -> dict[str, Any]:
        return {
            "weights": {n: round(float(w), 6) for n, w in zip(self.features, self.weights)},
            "bias": round(self.bias, 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Linear:
        weights = data["weights"]
        return cls(tuple(weights), np.array([float(w) for w in weights.values()]), float(data.get("bias", 0.0)))


@dataclass(frozen=True)
class Fit:
    """One fitted ranking: the scorer, the confidence model and its threshold."""

    scorer: Linear
    confidence: Linear
    threshold: float
    note: str = ""

    @property
    def needed(self) -> frozenset[str]:
        """The features this fit reads: the scorer's with a weight, and the answer decision's."""
        scorer = {name for name, weight in zip(self.scorer.features, self.scorer.weights.tolist()) if weight}
        return frozenset(scorer | set(self.confidence.features))

    def probability(self, z: np.ndarray) -> np.ndarray:
        """The confidence model's probability for each row of `z` (columns: the confidence model's features)."""
        return 1 / (1 + np.exp(-np.clip(self.confidence(z), -30, 30)))

    def to_json(self) -> dict[str, Any]:
        return {
            "scorer": self.scorer.to_json(),
            "confidence": self.confidence.to_json(),
            "threshold": round(self.threshold, 6),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fit:
        return cls(
            Linear.from_json(data["scorer"]),
            Linear.from_json(data["confidence"]),
            float(data["threshold"]),
            str(data.get("note", "")),
        )


@dataclass(frozen=True)
class RankingModel:
    """The shipped fits: with sentence vectors, and by words alone."""

    meaning: Fit
    words: Fit
    info: dict[str, Any]

    def fit_for(self, with_meaning: bool) -> Fit:
        return self.meaning if with_meaning else self.words

    def to_json(self) -> dict[str, Any]:
        return {"meaning": self.meaning.to_json(), "words": self.words.to_json(), "info": self.info}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RankingModel:
        return cls(Fit.from_json(data["meaning"]), Fit.from_json(data["words"]), dict(data.get("info", {})))


@cache
def shipped_model() -> RankingModel:
    """The model fitted on the training split, as shipped in the package (bot/data/ranking-model.json)."""
    try:
        text = resources.files("bot").joinpath("data").joinpath(MODEL_FILE).read_text(encoding="utf-8")
        return RankingModel.from_json(json.loads(text))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BotError(f"the ranking model bot/data/{MODEL_FILE} cannot be read ({exc}); reinstall the bot") from None


def logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))
