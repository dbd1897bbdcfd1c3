"""Ranking functions the organiser declares (``aibench leaderboard --ranking SPEC``).

A spec is a JSON object, or a list of them (the first is the *primary* ranking: the one the
significance map and the tiers are about)::

    {"kind": "metric", "column": "macro_f1"}                  # one column, by its direction
    {"kind": "metric_order", "columns": ["macro_f1", "mcc"]}  # by the first, ties broken by the next
    {"kind": "mean_rank", "columns": ["macro_f1", "mcc"]}     # mean of the per-column ranks, lower first
    {"kind": "dynascore", "weights": {"macro_f1": 0.5, "mae": 0.5},
     "performance": "macro_f1", "offsets": {"mae": 0}}         # Dynabench's Dynascore, higher first

Each may have a ``name`` (default: its kind and columns). Ranks use ties ``"min"`` (challengeR's
``ties.method = "min"``): submissions with equal scores share the best of their ranks.

**Dynascore** (Dynabench ``api/models/score.py``, ``calculate_dynascore``; Ma et al. 2021,
arXiv 2106.06052), exactly: every column ``m`` becomes ``x_m = direction_m * value + offset_m``
(``direction`` +1 for a metric to maximise, -1 to minimise; ``offset`` default 0); submissions
are sorted by the raw performance column, ascending; over each adjacent pair whose converted
performance difference ``dperf`` has ``|dperf| > 1e-4 * max(x_perf)``, the marginal rate of
substitution is ``|dx_m| / dperf``, and ``AMRS_m`` is its mean; with the weights normalised to sum
to 1, ``dynascore = sum_m w_m * x_m / |AMRS_m|``. The AMRS are computed over the phase's
submissions, and again over each bootstrap sample (the whole ranking function is re-applied,
as challengeR does). With no qualifying pair, or an ``AMRS_m`` of 0, the Dynascore is undefined
(NaN; such bootstrap samples count as dropped).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .sources import LeaderboardError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["DYNABENCH_DELTA_CUTOFF", "Ranking", "dynascore", "parse_rankings", "ranks_min"]

Kind = Literal["metric", "metric_order", "mean_rank", "dynascore"]
KINDS: tuple[Kind, ...] = ("metric", "metric_order", "mean_rank", "dynascore")
#: Dynabench's ``delta_cutoff_proportion``: adjacent pairs with |dperf| <= this * max(perf) are skipped
DYNABENCH_DELTA_CUTOFF = 1e-4


@dataclass(frozen=True)
class Ranking:
    """One ranking function over the analysed columns (module docstring)."""

    kind: Kind
    columns: tuple[str, ...]
    name: str
    weights: Mapping[str, float] = field(default_factory=dict)
    performance: str | None = None
    offsets: Mapping[str, float] = field(default_factory=dict)

    def higher_first(self, columns: Sequence[str], directions: Sequence[str]) -> bool:
        """Whether a higher score ranks first: the Dynascore, a metric to maximise (the mean rank and
        a metric to minimise: lower first)."""
        if self.kind == "dynascore":
            return True
        if self.kind == "mean_rank":
            return False
        return directions[list(columns).index(self.columns[0])] == "maximize"

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "columns": list(self.columns)}
        if self.kind == "dynascore":
            data |= {"weights": dict(self.weights), "performance": self.performance, "offsets": dict(self.offsets)}
        return data

    def evaluate(self, values: NDArray[Any], columns: Sequence[str], directions: Sequence[str]
                 ) -> tuple[NDArray[Any], NDArray[Any]]:
        """``values`` (b, submissions, every analysed column, in ``columns`` order) -> the score and
        the rank (1 = first, ties min) of each submission in each of the b samples."""
        import numpy as np

        at = [list(columns).index(c) for c in self.columns]
        signs = np.array([1.0 if directions[i] == "maximize" else -1.0 for i in at])
        chosen = values[:, :, at]
        if self.kind == "metric":
            return chosen[:, :, 0], ranks_min(chosen[:, :, 0] * signs[0])
        if self.kind == "metric_order":
            return chosen[:, :, 0], _lexicographic_ranks(chosen * signs)
        if self.kind == "mean_rank":
            per_column = np.stack([ranks_min(chosen[:, :, j] * signs[j]) for j in range(len(at))], axis=2)
            score = per_column.mean(axis=2)
            return score, ranks_min(-score)
        weights = np.array([self.weights.get(c, 0.0) for c in self.columns])
        offsets = np.array([self.offsets.get(c, 0.0) for c in self.columns])
        score, _ = dynascore(chosen, signs, offsets, weights, self.columns.index(str(self.performance)))
        return score, ranks_min(np.where(np.isnan(score), -np.inf, score))

    def amrs(self, values: NDArray[Any], columns: Sequence[str], directions: Sequence[str]) -> dict[str, float]:
        """The Dynascore's AMRS of each column on the full data (``values`` of shape (1, s, c))."""
        import numpy as np

        at = [list(columns).index(c) for c in self.columns]
        signs = np.array([1.0 if directions[i] == "maximize" else -1.0 for i in at])
        offsets = np.array([self.offsets.get(c, 0.0) for c in self.columns])
        weights = np.array([self.weights.get(c, 0.0) for c in self.columns])
        _, amrs = dynascore(values[:, :, at], signs, offsets, weights, self.columns.index(str(self.performance)))
        return {c: float(amrs[0, j]) for j, c in enumerate(self.columns)}


def ranks_min(keys: NDArray[Any]) -> NDArray[Any]:
    """Ranks along the last axis, higher key first, ties ``min`` (1 + how many are strictly higher)."""
    import numpy as np
    from scipy.stats import rankdata  # type: ignore[import-untyped]

    return np.asarray(rankdata(-keys, method="min", axis=-1), dtype=np.float64)


def _lexicographic_ranks(keys: NDArray[Any]) -> NDArray[Any]:
    """Ranks (ties min) of (b, s, c) keys ordered by column 0, ties broken by column 1, ...; higher first."""
    import numpy as np

    better = np.zeros(keys.shape[:2] + keys.shape[1:2], dtype=bool)  # better[b, i, j]: j ranks before i
    for j in reversed(range(keys.shape[2])):
        mine, theirs = keys[:, :, None, j], keys[:, None, :, j]
        better = (theirs > mine) | ((theirs == mine) & better)
    return np.asarray(1.0 + better.sum(axis=2), dtype=np.float64)


def dynascore(x: NDArray[Any], directions: NDArray[Any], offsets: NDArray[Any], weights: NDArray[Any],
              performance: int) -> tuple[NDArray[Any], NDArray[Any]]:
    """Dynabench's Dynascore of (b, s, c) column values (module docstring): the (b, s) scores and
    the (b, c) AMRS. ``weights`` are normalised here to sum to 1."""
    import numpy as np

    converted = directions * x + offsets
    order = np.argsort(x[:, :, performance], axis=1, kind="stable")  # Dynabench sorts before converting
    ordered = np.take_along_axis(converted, order[:, :, None], axis=1)
    delta = np.diff(ordered, axis=1)
    threshold = ordered[:, :, performance].max(axis=1, keepdims=True) * DYNABENCH_DELTA_CUTOFF
    dperf = delta[:, :, performance]
    kept = np.abs(dperf) > threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = np.where(kept[:, :, None], np.abs(delta) / np.where(kept, dperf, 1.0)[:, :, None], 0.0)
        amrs = rates.sum(axis=1) / kept.sum(axis=1, keepdims=True)
        amrs = np.where(kept.any(axis=1, keepdims=True), amrs, np.nan)
        scaled = converted / np.abs(amrs)[:, None, :]
        share = weights / weights.sum()
        score = np.where(share > 0, scaled * share, 0.0).sum(axis=2)
        undefined = ~np.isfinite(np.where(share > 0, np.abs(amrs), 1.0)).all(axis=1) | \
            (np.where(share > 0, np.abs(amrs), 1.0) == 0).any(axis=1)
    score[undefined] = np.nan
    return score, amrs


def parse_rankings(text: str | None, columns: Sequence[str]) -> list[Ranking]:
    """The rankings of ``--ranking`` (JSON text, or ``@file``), checked against the analysed
    ``columns``; none given: the first column, by its direction.

    :raises LeaderboardError: invalid JSON or spec, naming the JSON pointer and what is expected.
    """
    if text is None:
        return [Ranking("metric", (columns[0],), f"metric {columns[0]}")]
    where = "--ranking"
    if text.startswith("@"):
        where = text[1:]
        try:
            with open(where, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise LeaderboardError(f"--ranking {text}: cannot read the file: {error.strerror or error}") from None
    try:
        spec = json.loads(text)
    except ValueError as error:
        raise LeaderboardError(f"{where}: not valid JSON ({error}); give an object such as "
                               '\'{"kind": "mean_rank", "columns": ["macro_f1", "mcc"]}\' or a list of them') from None
    items = spec if isinstance(spec, list) else [spec]
    if not items:
        raise LeaderboardError(f"{where}: an empty list; give at least one ranking")
    out = [_ranking(item, f"/{i}" if isinstance(spec, list) else "", where, columns) for i, item in enumerate(items)]
    names = [r.name for r in out]
    if len(set(names)) != len(names):
        raise LeaderboardError(f"{where}: two rankings are named alike ({', '.join(names)}); give each a \"name\"")
    return out


def _ranking(item: Any, at: str, where: str, columns: Sequence[str]) -> Ranking:
    def fail(pointer: str, message: str) -> LeaderboardError:
        return LeaderboardError(f"{where} at {at + pointer or '/'}: {message}")

    if not isinstance(item, Mapping):
        raise fail("", f"expected an object, got {type(item).__name__}")
    kind = item.get("kind")
    if kind not in KINDS:
        raise fail("/kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    allowed = {"kind", "name", "column", "columns"} | ({"weights", "performance", "offsets"}
                                                      if kind == "dynascore" else set())
    extra = sorted(set(item) - allowed)
    if extra:
        raise fail(f"/{extra[0]}", f"unknown field for kind {kind!r} (it takes {', '.join(sorted(allowed))})")

    def column(value: Any, pointer: str) -> str:
        if value not in columns:
            raise fail(pointer, f"{value!r} is not an analysed column; the columns are {', '.join(columns)}")
        return str(value)

    weights: dict[str, float] = {}
    offsets: dict[str, float] = {}
    performance = None
    if kind == "metric":
        chosen: tuple[str, ...] = (column(item.get("column"), "/column"),)
    elif kind == "dynascore":
        raw = item.get("weights")
        if not isinstance(raw, Mapping) or not raw:
            raise fail("/weights", 'expected an object of column -> weight, e.g. {"macro_f1": 0.5, "mae": 0.5}')
        for key, value in raw.items():
            column(key, f"/weights/{key}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise fail(f"/weights/{key}", f"expected a weight >= 0, got {value!r}")
            weights[key] = float(value)
        if sum(weights.values()) <= 0:
            raise fail("/weights", "the weights sum to 0; give at least one positive weight")
        chosen = tuple(weights)
        performance = column(item.get("performance", chosen[0]), "/performance")
        if performance not in chosen:
            chosen = (*chosen, performance)
        for key, value in (item.get("offsets") or {}).items():
            column(key, f"/offsets/{key}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise fail(f"/offsets/{key}", f"expected a number, got {value!r}")
            offsets[key] = float(value)
    else:
        listed = item.get("columns")
        if not isinstance(listed, list) or not listed:
            raise fail("/columns", "expected a non-empty list of column keys")
        chosen = tuple(column(c, f"/columns/{i}") for i, c in enumerate(listed))
    name = item.get("name", f"{kind} {'+'.join(chosen)}")
    if not isinstance(name, str) or not name:
        raise fail("/name", f"expected a non-empty string, got {name!r}")
    return Ranking(kind, chosen, name, weights, performance, offsets)
