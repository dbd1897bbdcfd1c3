"""Built-in retrieval and ranking metrics, as TREC-style campaigns (TRECVID, MediaEval,
ImageCLEF) compute them: per query, then averaged over queries.

Inputs
------
``predictions`` (kind ``ranking``), the run, in one of three forms:

* **ranked lists**: a mapping ``{query_id: [item_id, ...]}``, best first; or
  ``{query_id: {item_id: score}}``, ranked by score;
* **rows**: a sequence of ``(query_id, item_id, score)`` rows (a TREC run file
  without its ``Q0``, rank and tag columns), or a pandas DataFrame with columns
  ``query_id, item_id, score`` (or exactly three columns, in that order). The rows of
  one query may come in several batches;
* **dense**: a two-dimensional integer numpy array ``(n_queries, depth)``: row ``i``
  is the ranked list of query ``i``, item ids being column indices of the dense
  references. Each row of each batch is a new query.

``references`` (kind ``labels``), the relevance judgements (qrels):

* a mapping ``{query_id: {item_id: relevance}}`` (graded), or
  ``{query_id: [item_id, ...]}`` (each listed item has relevance 1);
* rows ``(query_id, item_id, relevance)`` (a TREC qrels file without its iteration
  column), or a DataFrame with columns ``query_id, item_id, relevance`` (or three);
* **dense**, only with dense predictions: a numpy array ``(n_queries, n_items)`` of
  relevance grades.

A numpy array is always the dense form; rows are Python sequences or DataFrames.

Rules (trec_eval's, which the tests check)
------------------------------------------
* **Ties**: items are ranked by score, highest first; equal scores are ordered by
  item id *descending*, as trec_eval does (``strcmp(b, a)`` in its
  ``form_res_rels.c``): ``("d1", 0.5), ("d2", 0.5)`` ranks ``d2`` first. Item ids of
  one query must be mutually comparable (all strings or all numbers). Ranked lists
  and dense rows have no ties: their order is the ranking.
* **Relevance**: an item is relevant when its relevance is above 0 (trec_eval's
  default level 1 for integer grades); unjudged items are not relevant. nDCG's gain
  is the relevance (``gain: linear``, trec_eval and scikit-learn) or
  ``2**relevance - 1`` (``gain: exponential``, Burges et al.); relevance at or below
  0 gains nothing.
* **Which queries count**: every query of the references, including those with no
  relevant item, which score 0 on every metric (trec_eval counts them with 0;
  scikit-learn's ``ndcg_score`` too). Queries only in the predictions are ignored. A
  query in the references that the predictions lack (or rank no item for) scores 0
  (``missing_queries: zero``, trec_eval ``-c``, the default: a submission cannot skip
  hard queries) or is left out (``missing_queries: skip``, trec_eval's default).
* **Cutoff** ``k``: only the first ``k`` ranked items count; precision at ``k``
  divides by ``k`` even when fewer items were ranked. Average precision divides by
  the number of relevant items of the query (trec_eval ``map``/``map_cut``), not by
  ``min(k, R)``.

The state keeps the run and the judgements of named queries (a query's rows may
arrive in any batch) and per-query sums for dense batches; merging shards unites
them, so the result does not depend on how the data was split.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from aibench_plugins import (
    InputSpec, MetricInfo, MetricInputError, MetricStateBase, StatefulMetric, hookimpl, object_schema
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IntArray = npt.NDArray[np.int64]

__all__ = ["map_", "mrr", "ndcg", "precision_at_k", "recall_at_k"]

_INPUTS = {
    "predictions": InputSpec("ranking", None, "n,depth",
                             "The run: {query: [item, ...]} ranked lists, (query, item, score) rows, or a dense "
                             "(n_queries, depth) array of item ids."),
    "references": InputSpec("labels", None, "n,items",
                            "Relevance judgements: {query: {item: relevance}} or {query: [relevant items]}, "
                            "(query, item, relevance) rows, or a dense (n_queries, n_items) array of grades."),
}

_CUTOFF = {"type": ["integer", "null"], "minimum": 1, "default": None,
           "description": "Cutoff: only the first k ranked items count; null for the whole ranking."}
_K = {"type": "integer", "minimum": 1, "default": 10, "description": "Cutoff: the first k ranked items count."}
_MISSING = {"enum": ["zero", "skip"], "default": "zero",
            "description": "A query of the references without predictions scores 0 (zero, trec_eval -c) or is "
                           "left out of the mean (skip, trec_eval's default)."}
_GAIN = {"enum": ["linear", "exponential"], "default": "linear",
         "description": "Gain of an item of relevance r: r (linear, as trec_eval and scikit-learn) or 2^r - 1 "
                        "(exponential)."}


def _schema(**properties: Any) -> dict[str, Any]:
    return object_schema(**properties, missing_queries=_MISSING)


_TREC = ("Voorhees, E. M., & Harman, D. K. (Eds.). (2005). TREC: Experiment and Evaluation in Information "
         "Retrieval. MIT Press. Computed as trec_eval does (https://github.com/usnistgov/trec_eval).")


@dataclass
class _Ranked:
    """Top-k relevance of several queries' rankings, concatenated query after query.

    ``rel[i]`` is the relevance of the item at rank ``rank[i]`` (from 1) of query
    ``query[i]``; ``ideal*`` hold each query's positive relevances sorted descending
    (top-k), the best possible ranking; ``num_rel`` counts relevant items per query.
    """

    count: int
    rel: FloatArray
    query: IntArray
    rank: IntArray
    num_rel: IntArray
    ideal: FloatArray
    ideal_query: IntArray
    ideal_rank: IntArray


class _RankingState(MetricStateBase):
    info: ClassVar[MetricInfo]

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.k: int | None = self.params.get("k")
        self.reset()

    def reset(self) -> None:
        self.runs: dict[Hashable, dict[Hashable, float]] = {}
        self.listed: set[Hashable] = set()  # queries given as ranked lists: complete, no later rows
        self.qrels: dict[Hashable, dict[Hashable, float]] = {}
        self.dense_total = 0.0
        self.dense_count = 0

    # -- accumulation ---------------------------------------------------------------------

    def update(self, **inputs: Any) -> None:
        import numpy as np

        predictions, references = self._inputs(inputs)
        dense = isinstance(predictions, np.ndarray), isinstance(references, np.ndarray)
        if any(dense):
            if not all(dense):
                raise MetricInputError(f"{self.info.id}: {'predictions' if dense[0] else 'references'} are a numpy array "
                                 "(the dense form) but the other input is not; give both dense, or give "
                                 "mappings or (query, item, value) rows")
            scores = self._per_query(_dense(self.info.id, predictions, references, self.k))
            self.dense_total += float(scores.sum())
            self.dense_count += scores.size
            return
        runs, listed = _runs(self.info.id, predictions)
        qrels = _qrels(self.info.id, references)
        for query in runs:  # check everything before changing the state
            if query in self.runs and (query in listed or query in self.listed):
                raise MetricInputError(f"{self.info.id}: query {query!r} is ranked in two batches; a ranked list "
                                 "must come whole, in one batch (rows may be split)")
            _join(self.info.id, "predictions", query, self.runs.get(query, {}), runs[query], check_only=True)
        for query in qrels:
            _join(self.info.id, "references", query, self.qrels.get(query, {}), qrels[query], check_only=True)
        self._add(runs, listed, qrels)

    def _add(self, runs: Mapping[Hashable, dict[Hashable, float]], listed: Iterable[Hashable],
             qrels: Mapping[Hashable, dict[Hashable, float]]) -> None:
        for query, scores in runs.items():
            _join(self.info.id, "predictions", query, self.runs.setdefault(query, {}), scores)
        self.listed.update(listed)
        for query, judged in qrels.items():
            _join(self.info.id, "references", query, self.qrels.setdefault(query, {}), judged)

    def _merge(self, other: _RankingState) -> None:
        for query in other.runs:
            if query in self.runs and (query in other.listed or query in self.listed):
                raise MetricInputError(f"{self.info.id}: query {query!r} is ranked in both states")
            _join(self.info.id, "predictions", query, self.runs.get(query, {}), other.runs[query], check_only=True)
        for query in other.qrels:
            _join(self.info.id, "references", query, self.qrels.get(query, {}), other.qrels[query],
                  check_only=True)
        self._add(other.runs, other.listed, other.qrels)
        self.dense_total += other.dense_total
        self.dense_count += other.dense_count

    # -- scores -----------------------------------------------------------------------------

    def compute(self) -> dict[str, float]:
        ranked, _ = self._named()
        scores = self._per_query(ranked) if ranked.count else None
        count = self.dense_count + ranked.count
        if count == 0:
            raise MetricInputError(f"{self.info.id}: no query to evaluate: the references name no query"
                             + (" that the predictions rank (missing_queries is 'skip')"
                                if self.qrels and self.params["missing_queries"] == "skip" else ""))
        total = self.dense_total + (float(scores.sum()) if scores is not None else 0.0)
        return self._scores(total / count)

    def per_query(self) -> dict[Hashable, float]:
        """The score of each evaluated named query (dense queries are not kept)."""
        ranked, queries = self._named()
        return dict(zip(queries, map(float, self._per_query(ranked)))) if ranked.count else {}

    def _named(self) -> tuple[_Ranked, list[Hashable]]:
        """The named queries to evaluate, in the order of the references, and their ids."""
        import numpy as np

        rel: list[float] = []
        query: list[int] = []
        rank: list[int] = []
        num_rel: list[int] = []
        ideal: list[float] = []
        ideal_query: list[int] = []
        ideal_rank: list[int] = []
        evaluated: list[Hashable] = []
        skip = self.params["missing_queries"] == "skip"
        for q, judged in self.qrels.items():
            run = self.runs.get(q)
            if not run and skip:  # an empty ranked list is no ranking, as in trec_eval
                continue
            index = len(evaluated)
            evaluated.append(q)
            items = _order(self.info.id, q, run) if run else []
            top = items[: self.k] if self.k is not None else items
            rel.extend(judged.get(item, 0.0) for item in top)
            query.extend([index] * len(top))
            rank.extend(range(1, len(top) + 1))
            gains = sorted((g for g in judged.values() if g > 0), reverse=True)
            num_rel.append(len(gains))
            gains = gains[: self.k] if self.k is not None else gains
            ideal.extend(gains)
            ideal_query.extend([index] * len(gains))
            ideal_rank.extend(range(1, len(gains) + 1))
        ranked = _Ranked(len(evaluated), np.array(rel, dtype=np.float64), np.array(query, dtype=np.int64),
                         np.array(rank, dtype=np.int64), np.array(num_rel, dtype=np.int64),
                         np.array(ideal, dtype=np.float64), np.array(ideal_query, dtype=np.int64),
                         np.array(ideal_rank, dtype=np.int64))
        return ranked, evaluated

    @abstractmethod
    def _per_query(self, ranked: _Ranked) -> FloatArray:
        """The score of each query of ``ranked``."""
        ...


def _order(metric_id: str, query: Hashable, scores: Mapping[Hashable, float]) -> list[Hashable]:
    """Items by score descending, ties by item id descending (trec_eval)."""
    try:
        return [item for item, _ in sorted(scores.items(), key=lambda pair: (pair[1], pair[0]), reverse=True)]
    except TypeError as error:
        raise MetricInputError(f"{metric_id}: query {query!r} has items with equal scores whose ids cannot be compared "
                         f"({error}); ties are ordered by item id, so use ids of one type") from None


def _join(metric_id: str, name: str, query: Hashable, into: dict[Hashable, float], new: Mapping[Hashable, float],
          *, check_only: bool = False) -> None:
    """Add ``new`` to ``into``; an item present in both is an error (predictions) or must
    agree (references)."""
    for item, value in new.items():
        old = into.get(item)
        if old is not None and (name == "predictions" or old != value):
            what = "is ranked twice" if name == "predictions" else f"is judged {old} and {value}"
            raise MetricInputError(f"{metric_id}: {name}: item {item!r} of query {query!r} {what}")
        if not check_only:
            into[item] = value


def _rows(metric_id: str, name: str, value: Any, last: str) -> Iterable[tuple[Any, ...]]:
    """Rows of a sequence or a DataFrame (by column names, or its three columns)."""
    columns = getattr(value, "columns", None)
    if columns is not None and hasattr(value, "itertuples"):
        wanted = ["query_id", "item_id", last]
        if all(c in list(columns) for c in wanted):
            value = value[wanted]
        elif len(columns) != 3:
            raise MetricInputError(f"{metric_id}: {name} is a table with columns {list(columns)}; give columns "
                             f"{', '.join(wanted)}")
        return value.itertuples(index=False, name=None)  # type: ignore[no-any-return]
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise MetricInputError(f"{metric_id}: {name} must be a mapping of query ids, (query_id, item_id, {last}) rows "
                         f"or a numpy array; got {type(value).__name__}")
    return value


def _number(metric_id: str, name: str, query: Hashable, item: Hashable, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise MetricInputError(f"{metric_id}: {name}: item {item!r} of query {query!r} has value {value!r}; "
                         "give a finite number")
    return number


def _row(metric_id: str, name: str, index: int, row: Any, last: str) -> tuple[Hashable, Hashable, float]:
    if isinstance(row, (str, bytes)) or not hasattr(row, "__len__") or len(row) != 3:
        raise MetricInputError(f"{metric_id}: {name}[{index}] is {row!r}; each row is (query_id, item_id, {last})")
    query, item, value = row
    return _key(query), _key(item), _number(metric_id, name, query, item, value)


def _key(value: Any) -> Hashable:
    """numpy scalars as Python ones, so that ids from arrays and from lists match."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    key: Hashable = value
    return key


def _runs(metric_id: str, predictions: Any) -> tuple[dict[Hashable, dict[Hashable, float]], set[Hashable]]:
    """The run as ``{query: {item: score}}``, and the queries given as ranked lists."""
    runs: dict[Hashable, dict[Hashable, float]] = {}
    listed: set[Hashable] = set()
    if isinstance(predictions, Mapping):
        for query, ranking in predictions.items():
            query = _key(query)
            if isinstance(ranking, Mapping):
                scores: dict[Hashable, float] = {}
                for item, score in ranking.items():
                    scores[_key(item)] = _number(metric_id, "predictions", query, item, score)
                runs[query] = scores
                continue
            if isinstance(ranking, (str, bytes)) or not isinstance(ranking, Iterable):
                raise MetricInputError(f"{metric_id}: predictions[{query!r}] is {ranking!r}; give the query's ranked "
                                 "item ids as a list, best first")
            items = [_key(item) for item in ranking]
            scores = {item: -float(position) for position, item in enumerate(items)}
            if len(scores) != len(items):
                twice = next(item for item in items if items.count(item) > 1)
                raise MetricInputError(f"{metric_id}: predictions: item {twice!r} of query {query!r} is ranked twice")
            runs[query] = scores
            listed.add(query)
        return runs, listed
    for index, row in enumerate(_rows(metric_id, "predictions", predictions, "score")):
        query, item, score = _row(metric_id, "predictions", index, row, "score")
        _join(metric_id, "predictions", query, runs.setdefault(query, {}), {item: score})
    return runs, listed


def _qrels(metric_id: str, references: Any) -> dict[Hashable, dict[Hashable, float]]:
    qrels: dict[Hashable, dict[Hashable, float]] = {}
    if isinstance(references, Mapping):
        for query, judged in references.items():
            query = _key(query)
            if isinstance(judged, Mapping):
                qrels[query] = {_key(item): _number(metric_id, "references", query, item, relevance)
                                for item, relevance in judged.items()}
            elif isinstance(judged, (str, bytes)) or not isinstance(judged, Iterable):
                raise MetricInputError(f"{metric_id}: references[{query!r}] is {judged!r}; give {{item: relevance}} or "
                                 "a list of the relevant item ids")
            else:
                qrels[query] = {_key(item): 1.0 for item in judged}
        return qrels
    for index, row in enumerate(_rows(metric_id, "references", references, "relevance")):
        query, item, relevance = _row(metric_id, "references", index, row, "relevance")
        _join(metric_id, "references", query, qrels.setdefault(query, {}), {item: relevance})
    return qrels


def _dense(metric_id: str, predictions: Any, references: Any, k: int | None) -> _Ranked:
    import numpy as np

    ranking, grades = np.asarray(predictions), np.asarray(references)
    if ranking.ndim != 2 or grades.ndim != 2 or ranking.shape[0] != grades.shape[0]:
        raise MetricInputError(f"{metric_id}: dense predictions (n_queries, depth) and references (n_queries, n_items) "
                         f"must be 2-D with one row per query; got shapes {ranking.shape} and {grades.shape}")
    if ranking.dtype.kind not in "iu":
        raise MetricInputError(f"{metric_id}: dense predictions must hold integer item ids (column indices of the "
                         f"references), not {ranking.dtype}; for (query, item, score) rows pass a list or a "
                         "DataFrame")
    if grades.dtype.kind not in "biuf" or not np.isfinite(grades).all():
        raise MetricInputError(f"{metric_id}: dense references must hold finite relevance grades")
    if ranking.size and ranking.min() < 0:
        raise MetricInputError(f"{metric_id}: dense predictions hold a negative item id ({ranking.min()})")
    ordered = np.sort(ranking, axis=1)
    twice = np.flatnonzero((ordered[:, 1:] == ordered[:, :-1]).any(axis=1))
    if twice.size:
        raise MetricInputError(f"{metric_id}: dense predictions rank an item twice in row {twice[0]}")
    count, n_items = grades.shape
    grades = grades.astype(np.float64)
    top = ranking[:, :k] if k is not None else ranking
    depth = top.shape[1]
    judged = top < n_items  # item ids beyond the judged columns are unjudged: not relevant
    rel = np.zeros(top.shape)
    rows = np.broadcast_to(np.arange(count)[:, None], top.shape)
    rel[judged] = grades[rows[judged], top[judged]]
    ideal = -np.sort(-np.where(grades > 0, grades, 0.0), axis=1)
    ideal = ideal[:, :k] if k is not None else ideal
    positive = ideal > 0
    ideal_ranks = np.broadcast_to(np.arange(1, ideal.shape[1] + 1), ideal.shape)
    return _Ranked(
        count, rel.ravel(), np.repeat(np.arange(count), depth), np.tile(np.arange(1, depth + 1), count),
        (grades > 0).sum(axis=1), ideal[positive], np.broadcast_to(np.arange(count)[:, None], ideal.shape)[positive],
        ideal_ranks[positive],
    )


def _per_query_sum(ranked: _Ranked, weights: Any) -> FloatArray:
    import numpy as np

    return np.bincount(ranked.query, weights=weights, minlength=ranked.count).astype(np.float64)


def _ratio(numerator: Any, denominator: Any) -> FloatArray:
    import numpy as np

    out = np.zeros(len(numerator))
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _hits_so_far(ranked: _Ranked) -> IntArray:
    """For each ranked item, the relevant items at its rank or above, in its query."""
    import numpy as np

    hits = np.cumsum(ranked.rel > 0, dtype=np.int64)
    starts = np.flatnonzero(ranked.rank == 1)
    before = np.concatenate((np.zeros(1, dtype=np.int64), hits))[starts]
    lengths = np.diff(np.append(starts, ranked.rank.size))
    result: IntArray = hits - np.repeat(before, lengths)
    return result


class MAPState(_RankingState):
    info = MetricInfo(
        id="aibench.map", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(k=_CUTOFF),
        description="""Mean average precision: per query, the mean of the precision at the
            rank of each relevant item (0 for relevant items not ranked, or ranked below the cutoff k),
            averaged over queries; trec_eval's map (map_cut.k with k: a query with more than k relevant
            items scores at most k / relevant).""",
        citation=_TREC,
    )

    def _per_query(self, ranked: _Ranked) -> FloatArray:
        relevant = ranked.rel > 0
        precision = _hits_so_far(ranked) / ranked.rank
        return _ratio(_per_query_sum(ranked, precision * relevant), ranked.num_rel)


class NDCGState(_RankingState):
    info = MetricInfo(
        id="aibench.ndcg", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(k=_CUTOFF, gain=_GAIN),
        description="""Normalised discounted cumulative gain: the sum of gain / log2(rank + 1)
            over the first k ranked items, divided by that of the ideal ranking of the query's judged
            items; 0 for a query with no relevant item. Linear gains equal trec_eval's ndcg_cut and
            scikit-learn's ndcg_score.""",
        citation="Järvelin, K., & Kekäläinen, J. (2002). Cumulated gain-based evaluation of IR techniques. "
                 "ACM Transactions on Information Systems, 20(4), 422-446.",
    )

    def _per_query(self, ranked: _Ranked) -> FloatArray:
        import numpy as np

        def gain(relevance: FloatArray) -> FloatArray:
            positive = np.maximum(relevance, 0.0)
            return np.expm1(positive * np.log(2.0)) if self.params["gain"] == "exponential" else positive

        dcg = _per_query_sum(ranked, gain(ranked.rel) / np.log2(ranked.rank + 1.0))
        ideal = np.bincount(ranked.ideal_query, weights=gain(ranked.ideal) / np.log2(ranked.ideal_rank + 1.0),
                            minlength=ranked.count)
        return _ratio(dcg, ideal)


class PrecisionAtKState(_RankingState):
    info = MetricInfo(
        id="aibench.precision_at_k", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(k=_K),
        description="""Precision at k: the relevant items among the first k ranked, divided by
            k (even when fewer were ranked), averaged over queries; trec_eval's P.k.""",
        citation=_TREC,
    )

    def _per_query(self, ranked: _Ranked) -> FloatArray:
        return _per_query_sum(ranked, ranked.rel > 0) / float(self.params["k"])


class RecallAtKState(_RankingState):
    info = MetricInfo(
        id="aibench.recall_at_k", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(k=_K),
        description="""Recall at k: the relevant items among the first k ranked, divided by the
            query's relevant items (0 for a query with none), averaged over queries; trec_eval's
            recall.k.""",
        citation=_TREC,
    )

    def _per_query(self, ranked: _Ranked) -> FloatArray:
        return _ratio(_per_query_sum(ranked, ranked.rel > 0), ranked.num_rel)


class MRRState(_RankingState):
    info = MetricInfo(
        id="aibench.mrr", direction="maximize", bounds=(0.0, 1.0), inputs=_INPUTS,
        params_schema=_schema(k=_CUTOFF),
        description="""Mean reciprocal rank: 1 / the rank of the first relevant item (0 when
            none is ranked, or none within the cutoff k), averaged over queries; trec_eval's
            recip_rank.""",
        citation="Voorhees, E. M. (1999). The TREC-8 Question Answering Track Report. TREC-8.",
    )

    def _per_query(self, ranked: _Ranked) -> FloatArray:
        import numpy as np

        scores = np.zeros(ranked.count)
        relevant = ranked.rel > 0
        queries, first = np.unique(ranked.query[relevant], return_index=True)
        scores[queries] = 1.0 / ranked.rank[relevant][first]
        return scores


map_ = StatefulMetric(MAPState)
ndcg = StatefulMetric(NDCGState)
precision_at_k = StatefulMetric(PrecisionAtKState)
recall_at_k = StatefulMetric(RecallAtKState)
mrr = StatefulMetric(MRRState)


@hookimpl
def aibench_register_metrics(register: Any) -> None:
    for each in (map_, ndcg, precision_at_k, recall_at_k, mrr):
        register(each)
