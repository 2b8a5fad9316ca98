"""Explain a ranking as search engines' explain does: each result's features and what each contributed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ranking.features import SCORER_FEATURES, confidence_inputs

if TYPE_CHECKING:
    from bot.search import SearchResult

SHOWN = 6  # largest contributions listed per result


def explain(ranking: SearchResult, limit: int = 5) -> list[str]:
    """Lines describing the best `limit` candidates: score, answer probability, and the features behind the score."""
    if ranking.features is None or ranking.fit is None:
        return ["no candidate passages: no word of the question is in the index, and no sentence vector was compared"]
    fit, feats = ranking.fit, ranking.features
    lines = [
        f"scorer: {'words and meaning' if feats.candidates.cosines is not None else 'words alone'}; "
        f"answers when the probability is at least {fit.threshold:.3f}",
        f"candidates: {len(ranking.order)} ({int((feats.candidates.word_rank > 0).sum())} by words, "
        f"{int((feats.candidates.meaning_rank > 0).sum())} by meaning)",
    ]
    for place, row in enumerate(ranking.order[:limit].tolist(), 1):
        passage_id = int(feats.candidates.doc_ids[row])
        probability = float(ranking.probability[row])
        verdict = "answers" if probability >= fit.threshold else "below the threshold"
        lines.append(
            f"[{place}] passage {passage_id}: score {ranking.scores[row]:+.3f}, p={probability:.3f} ({verdict})"
        )
        parts = fit.scorer.contributions(feats.matrix[row], SCORER_FEATURES)
        shown = [f"{name}={value:.3g} ({part:+.3f})" for name, value, part in parts[:SHOWN] if part]
        lines.append("    " + ", ".join(shown) if shown else "    every feature is 0")
        z = confidence_inputs(
            feats.matrix[row : row + 1], ranking.scores[row : row + 1], feats.question, fit.confidence.features
        )[0]
        decision = fit.confidence.contributions(z)
        shown_p = [f"{name}={value:.3g} ({part:+.2f})" for name, value, part in decision[:4] if part]
        lines.append("    p from: " + (", ".join(shown_p) if shown_p else "its bias alone"))
    return lines
