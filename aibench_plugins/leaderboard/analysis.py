"""The phase's leaderboard, analysed: one document (``schemas/aibench-leaderboard.schema.json``)
from the submissions' case columns, the declared rankings and the bootstrap.

:func:`analyse` runs the whole analysis of :mod:`.stability` for every ranking (score and rank
intervals, rank distributions, Kendall's tau) and the pairwise tests, significance map and tiers
for the primary ranking (the first), and the Pareto ranks of score versus cost the manifest's
efficiency section declares (:mod:`.pareto`). Everything is seeded: the same inputs, seed and replicates
give the same document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from . import stability
from .cases import CaseColumn
from .pareto import ParetoSpec, analyse_pareto
from .ranking import Ranking
from .sources import Entry, LeaderboardError, Skipped

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["LEADERBOARD_VERSION", "Settings", "analyse", "fairness_groups"]

LEADERBOARD_VERSION = 1
Test = Literal["auto", "wilcoxon", "bootstrap"]


@dataclass(frozen=True)
class Settings:
    """How the analysis runs: ``replicates`` bootstrap samples from ``seed``, intervals at
    ``confidence``, tests at ``alpha`` (after Holm), and which ``test`` the significance map uses."""

    replicates: int = 1000
    seed: int = 0
    confidence: float = 0.95
    alpha: float = 0.05
    test: Test = "auto"


def analyse(columns: Sequence[CaseColumn], rankings: Sequence[Ranking], entries: Sequence[Entry],
            settings: Settings = Settings(), *, progress: Callable[[int], None] | None = None,
            context: Mapping[str, Any] | None = None, pareto: Sequence[ParetoSpec] = ()) -> dict[str, Any]:
    """The leaderboard document; ``context`` adds the source's fields (bundle, phase, skipped, notes);
    ``pareto``: the manifest's Pareto-rank entries (:mod:`.pareto`), computed over the submissions."""
    import numpy as np

    if len(entries) < 2:
        raise LeaderboardError(f"{len(entries)} submission can be analysed; ranking stability needs at least 2 "
                               "(run more submissions, or see the skipped ones)")
    if columns[0].n_cases < 2:
        raise LeaderboardError("the split has fewer than 2 cases: there is nothing to resample")
    keys = [c.key for c in columns]
    directions = [c.direction for c in columns]
    full = np.stack([c.values for c in columns], axis=1)[None, :, :]
    replicates = stability.bootstrap_values(columns, settings.replicates, settings.seed, progress=progress)
    names = [e.name for e in entries]
    ranked = [_ranking(r, full, replicates, keys, directions, names, settings) for r in rankings]
    primary = rankings[0]
    significance, groups, notes = _significance(primary, ranked[0], columns, names, settings, progress)
    notes += [f"column {c.key} ({c.metric}) has no per-case decomposition: each bootstrap sample recomputes the "
             "metric on the resampled rows (the slow path)" for c in columns if c.method == "recompute"]
    document: dict[str, Any] = {
        "leaderboard_version": LEADERBOARD_VERSION,
        **dict(context or {}),
        "n_cases": columns[0].n_cases,
        "replicates": settings.replicates, "seed": settings.seed, "confidence": settings.confidence,
        "alpha": settings.alpha,
        "submissions": [e.to_json() for e in entries],
        "columns": [c.describe() for c in columns],
        "rankings": [r["document"] for r in ranked],
        "significance": significance,
        "tiers": [{"tier": t + 1, "submissions": [names[i] for i in group]} for t, group in enumerate(groups)],
        "fairness": fairness_groups(entries),
        "pareto": analyse_pareto(pareto, entries, columns),
    }
    document["notes"] = list(document.get("notes") or []) + notes
    document.setdefault("skipped", [])
    return document


def _ranking(ranking: Ranking, full: NDArray[Any], replicates: NDArray[Any], keys: Sequence[str],
             directions: Sequence[str], names: Sequence[str], settings: Settings) -> dict[str, Any]:
    import numpy as np

    score_full, rank_full = (a[0] for a in ranking.evaluate(full, keys, directions))
    if np.isnan(score_full).any():
        raise LeaderboardError(f"ranking {ranking.name!r} is undefined on the full data (a Dynascore needs two "
                               "submissions whose performance differs, and columns that change between them)")
    scores, ranks = ranking.evaluate(replicates, keys, directions)
    defined = ~np.isnan(scores).any(axis=1)
    scores, ranks = scores[defined], ranks[defined]
    if not len(scores):
        raise LeaderboardError(f"ranking {ranking.name!r} is undefined on every bootstrap sample (a Dynascore whose "
                               "performance column ties in every sample); choose another performance column")
    low, high = stability.score_interval(scores, settings.confidence)
    summary = stability.rank_summary(ranks, settings.confidence)
    taus, excluded = stability.kendall_taus(ranks, rank_full)
    tail = (1 - settings.confidence) / 2
    tau: dict[str, Any] = {"n": int(len(taus)), "excluded": int(excluded), "mean": None, "median": None, "low": None, "high": None}
    if len(taus):
        tau |= {"mean": float(taus.mean()), "median": float(np.median(taus)),
                "low": float(np.quantile(taus, tail)), "high": float(np.quantile(taus, 1 - tail))}
    order = sorted(range(len(names)), key=lambda i: (rank_full[i], names[i]))
    entries = [{"submission": names[i], "score": float(score_full[i]), "score_low": float(low[i]),
                "score_high": float(high[i]), "rank": int(rank_full[i]), "rank_median": float(summary["median"][i]),
                "rank_low": float(summary["low"][i]), "rank_high": float(summary["high"][i]),
                "rank_counts": [int(c) for c in summary["counts"][i]]} for i in order]
    document = ranking.to_json() | {
        "higher_first": ranking.higher_first(keys, directions), "entries": entries, "kendall_tau": tau,
        "dropped_replicates": int((~defined).sum())}
    if ranking.kind == "dynascore":
        document["amrs"] = ranking.amrs(full, keys, directions)
    return {"document": document, "scores": scores, "score_full": score_full, "rank_full": rank_full,
            "order": order}


def _significance(ranking: Ranking, ranked: Mapping[str, Any], columns: Sequence[CaseColumn], names: Sequence[str],
                  settings: Settings, progress: Callable[[int], None] | None
                  ) -> tuple[dict[str, Any], list[list[int]], list[str]]:
    import numpy as np

    higher_first = ranked["document"]["higher_first"]
    differences = stability.pairwise(ranked["scores"], higher_first, settings.confidence)
    column = stability.per_case_of(ranking, columns)
    test = settings.test
    if test == "wilcoxon" and column is None:
        raise LeaderboardError(f"--test wilcoxon: ranking {ranking.name!r} has no per-case values to pair (it is not "
                               "a single column whose metric is a mean of per-case values: accuracy, MAE, MSE, "
                               "RMSE); use --test bootstrap or auto")
    if test == "auto":
        test = "wilcoxon" if column is not None else "bootstrap"
    if test == "wilcoxon":
        assert column is not None and column.per_case is not None
        p = stability.wilcoxon_pvalues(column.per_case, column.direction == "maximize")
    else:
        p = differences["p"]
    off = ~np.eye(len(names), dtype=bool)
    floor = int(off.sum()) / (len(ranked["scores"]) + 1)  # Holm's smallest adjusted p with bootstrap p-values
    notes = [] if test == "wilcoxon" or floor < settings.alpha else [
        f"with {len(ranked['scores'])} bootstrap samples the smallest paired-bootstrap p-value is 1/(B + 1), so after "
        f"Holm's correction over {int(off.sum())} ordered pairs no difference can be significant at alpha "
        f"{settings.alpha}: use --replicates {int(off.sum() / settings.alpha) + 1} or more"]
    adjusted = np.full(p.shape, np.nan)
    adjusted[off] = stability.holm(p[off])
    significant = np.zeros(p.shape, dtype=bool)
    significant[off] = adjusted[off] < settings.alpha
    order = ranked["order"]
    groups = stability.tiers(order, significant)

    def matrix(values: NDArray[Any], kind: type = float) -> list[list[Any]]:
        return [[None if i == j else kind(values[i, j]) for j in order] for i in order]

    sign = 1.0 if higher_first else -1.0
    point = sign * (ranked["score_full"][:, None] - ranked["score_full"][None, :])
    document = {"ranking": ranking.name, "test": test, "correction": "holm", "alpha": settings.alpha,
                "per_case": column.per_case_name if test == "wilcoxon" and column is not None else None,
                "order": [names[i] for i in order], "p_values": matrix(p), "p_adjusted": matrix(adjusted),
                "significant": matrix(significant, bool), "difference": matrix(point),
                "difference_low": matrix(differences["low"]), "difference_high": matrix(differences["high"])}
    return document, groups, notes


def fairness_groups(entries: Sequence[Entry]) -> list[dict[str, Any]]:
    """The per-group aggregates of each submission's report.json fairness analyses (top-level
    ``analyses`` items of kind ``fairness``): already restricted by the host to groups of at least
    the entry's ``min_group_size``; copied as aggregates only ({group, n, measure, value, low, high})."""
    out: list[dict[str, Any]] = []
    for entry in entries:
        for item in (entry.report or {}).get("analyses") or []:
            if not isinstance(item, Mapping) or item.get("kind") != "fairness":
                continue
            minimum = item.get("min_group_size")
            groups = [{"group": {str(k): str(v) for k, v in (g.get("group") or {}).items()},
                       "n": int(g["n"]), "measure": str(g.get("measure")), "value": _number(g.get("value")),
                       "low": _number(g.get("low")), "high": _number(g.get("high"))}
                      for g in item.get("groups") or [] if isinstance(g, Mapping) and isinstance(g.get("n"), int)
                      and (not isinstance(minimum, int) or g["n"] >= minimum)]
            out.append({"submission": entry.name, "key": str(item.get("key")),
                        "label": str(item.get("label") or item.get("key")),
                        "min_group_size": minimum if isinstance(minimum, int) else None, "groups": groups})
    return out


def _number(value: Any) -> float | None:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def skipped_json(skipped: Sequence[Skipped]) -> list[dict[str, Any]]:
    return [s.to_json() for s in skipped]
