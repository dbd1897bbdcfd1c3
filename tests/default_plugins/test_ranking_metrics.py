"""Ranking metrics follow trec_eval (ties, queries without relevant items, cutoffs), equal
scikit-learn's ndcg_score and average_precision_score where comparable, and do not
depend on how rows are split into batches or shards."""

from __future__ import annotations

import math
import pickle
import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from aibench_plugins import Kind, PluginHost
from aibench_plugins.default_plugins import ranking
from aibench_plugins.testing import MetricCheck, parametrize_with_checks

SETTINGS = settings(max_examples=50, deadline=None)
METRICS = {m.info.id: m for m in (ranking.map_, ranking.ndcg, ranking.precision_at_k, ranking.recall_at_k,
                                   ranking.mrr)}
CONFIGS = [("aibench.map", {}), ("aibench.map", {"k": 3}), ("aibench.ndcg", {}), ("aibench.ndcg", {"k": 2}),
           ("aibench.ndcg", {"k": 4, "gain": "exponential"}), ("aibench.precision_at_k", {"k": 3}),
           ("aibench.recall_at_k", {"k": 5}), ("aibench.mrr", {}), ("aibench.mrr", {"k": 2})]
Run = dict[Hashable, dict[Hashable, float]]


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def brute_force(metric_id: str, run: Run, qrels: Run, *, k: int | None = None, gain: str = "linear",
                missing_queries: str = "zero") -> float:
    """Each metric from its definition, query by query, in plain Python."""
    if metric_id in ("aibench.precision_at_k", "aibench.recall_at_k") and k is None:
        k = 10
    scores = []
    for query, judged in qrels.items():
        if not run.get(query) and missing_queries == "skip":
            continue
        scored = run.get(query, {})
        by_id = sorted(scored, reverse=True)  # trec_eval: ties by item id, descending ...
        ranked = sorted(by_id, key=lambda item: -scored[item])  # ... under a stable sort by score
        top = ranked[:k] if k is not None else ranked
        rel = [judged.get(item, 0) for item in top]
        hits = [r > 0 for r in rel]
        n_rel = sum(r > 0 for r in judged.values())
        if metric_id == "aibench.map":
            score = sum(sum(hits[: i + 1]) / (i + 1) for i, h in enumerate(hits) if h) / n_rel if n_rel else 0.0
        elif metric_id == "aibench.ndcg":
            g = (lambda r: 2.0**r - 1 if r > 0 else 0.0) if gain == "exponential" else (lambda r: max(r, 0.0))
            dcg = sum(g(r) / math.log2(i + 2) for i, r in enumerate(rel))
            ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
            best = sum(g(r) / math.log2(i + 2) for i, r in enumerate(ideal))
            score = dcg / best if best > 0 else 0.0
        elif metric_id == "aibench.precision_at_k":
            assert k is not None
            score = sum(hits) / k
        elif metric_id == "aibench.recall_at_k":
            score = sum(hits) / n_rel if n_rel else 0.0
        else:
            score = next((1 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
        scores.append(score)
    return sum(scores) / len(scores)


@st.composite
def runs_and_qrels(draw: st.DrawFn) -> tuple[Run, Run]:
    """A few queries; scores from a small set (ties); graded judgements with zeros; queries
    without any relevant item, queries only in the run, queries only in the judgements.
    Each judged query has a judgement: (query, item, relevance) rows cannot name a query
    without one (as in a qrels file)."""
    items = [f"d{i}" for i in range(12)]
    n_queries = draw(st.integers(1, 5))
    run: Run = {}
    qrels: Run = {}
    for q in range(n_queries):
        query = f"q{q}"
        if draw(st.integers(0, 5)):
            chosen = draw(st.lists(st.sampled_from(items), unique=True, max_size=10))
            run[query] = {item: draw(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0])) for item in chosen}
        if draw(st.integers(0, 5)) or query not in run:
            judged = draw(st.lists(st.sampled_from(items), unique=True, min_size=1, max_size=8))
            qrels[query] = {item: float(draw(st.sampled_from([0, 0, 1, 2, 3]))) for item in judged}
    if not qrels:
        qrels["q0"] = {"d0": 1.0}
    return run, qrels


def rows(mapping: Run) -> list[tuple[Hashable, Hashable, float]]:
    return [(query, item, value) for query, values in mapping.items() for item, value in values.items()]


def compute(metric_id: str, params: dict, batches: list[tuple[object, object]]) -> float:
    state = METRICS[metric_id](**params)
    for p, r in batches:
        state.update(predictions=p, references=r)
    return state.compute()[metric_id]


@SETTINGS
@given(data=runs_and_qrels(), missing=st.sampled_from(["zero", "skip"]))
def test_rows_equal_the_definitions(data: tuple[Run, Run], missing: str) -> None:
    run, qrels = data
    if missing == "skip" and not any(run.get(query) for query in qrels):
        with pytest.raises(ValueError, match="no query to evaluate"):
            compute("aibench.map", {"missing_queries": "skip"}, [(rows(run), rows(qrels))])
        return
    for metric_id, params in CONFIGS:
        got = compute(metric_id, {**params, "missing_queries": missing}, [(rows(run), rows(qrels))])
        expected = brute_force(metric_id, run, qrels, missing_queries=missing, **params)
        assert close(got, expected), (metric_id, params, got, expected)


@st.composite
def dense(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Graded relevance (queries x items) and distinct scores (no ties)."""
    n_queries, n_items = draw(st.integers(1, 6)), draw(st.integers(2, 8))
    grades = st.lists(st.sampled_from([0, 0, 0, 1, 2, 3]), min_size=n_items, max_size=n_items)
    relevance = np.array([draw(grades) for _ in range(n_queries)], dtype=float)
    scores = np.array([draw(st.permutations(range(n_items))) for _ in range(n_queries)], dtype=float)
    return relevance, scores


@SETTINGS
@given(data=dense(), k=st.one_of(st.none(), st.integers(1, 9)))
def test_dense_equals_scikit_learn(data: tuple[np.ndarray, np.ndarray], k: int | None) -> None:
    relevance, scores = data
    ranked = np.argsort(-scores, axis=1)  # the dense form: item ids, best first
    got = ranking.ndcg.compute(predictions=ranked, references=relevance, k=k)
    assert close(got, float(sk.ndcg_score(relevance, scores, k=k)))
    # average precision over the whole ranking; a query with no relevant item scores 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no positive sample
        expected = np.mean([sk.average_precision_score(r > 0, s) if (r > 0).any() else 0.0
                            for r, s in zip(relevance, scores)])
    assert close(ranking.map_.compute(predictions=ranked, references=relevance), float(expected))


@SETTINGS
@given(data=runs_and_qrels(), cuts=st.lists(st.floats(0, 1), max_size=3), order=st.randoms())
def test_batches_and_shards_equal_one_pass(data: tuple[Run, Run], cuts: list[float], order: object) -> None:
    """Rows in any order, cut anywhere (a query's rows across batches), judgements and run
    split independently."""
    run, qrels = data
    p_rows, r_rows = rows(run), rows(qrels)
    order.shuffle(p_rows)  # type: ignore[attr-defined]
    order.shuffle(r_rows)  # type: ignore[attr-defined]

    def split(values: list) -> list[list]:
        bounds = [0, *sorted(round(c * len(values)) for c in cuts), len(values)]
        return [values[a:b] for a, b in zip(bounds, bounds[1:])]

    batches = list(zip(split(p_rows), split(r_rows)))
    for metric_id, params in CONFIGS:
        whole = compute(metric_id, params, [(rows(run), rows(qrels))])
        assert close(compute(metric_id, params, batches), whole)
        states = []
        for p, r in reversed(batches):
            state = METRICS[metric_id](**params)
            state.update(predictions=p, references=r)
            states.append(state)
        for state in states[1:]:
            states[0].merge(state)
        assert close(states[0].compute()[metric_id], whole), (metric_id, params)


@SETTINGS
@given(data=dense(), cut=st.integers(0, 6))
def test_dense_batches_and_shards(data: tuple[np.ndarray, np.ndarray], cut: int) -> None:
    relevance, scores = data
    ranked = np.argsort(-scores, axis=1)
    for metric_id, params in CONFIGS:
        whole = compute(metric_id, params, [(ranked, relevance)])
        parts = [(ranked[:cut], relevance[:cut]), (ranked[cut:], relevance[cut:])]
        assert close(compute(metric_id, params, parts), whole)
        first, second = METRICS[metric_id](**params), METRICS[metric_id](**params)
        first.update(predictions=parts[0][0], references=parts[0][1])
        second.update(predictions=parts[1][0], references=parts[1][1])
        second.merge(first)
        assert close(second.compute()[metric_id], whole)


@SETTINGS
@given(data=runs_and_qrels())
def test_perfect_rankings_reach_the_bound(data: tuple[Run, Run]) -> None:
    """Relevant items ranked by relevance: every metric is 1 on queries that have relevant
    items (precision at k needs k of them; recall at k and, as trec_eval's map_cut divides
    by every relevant item, average precision at k, at most k)."""
    _, qrels = data
    qrels = {q: j for q, j in qrels.items() if any(v > 0 for v in j.values())}
    if not qrels:
        return
    perfect = {q: sorted((i for i in j if j[i] > 0), key=lambda i: -j[i]) for q, j in qrels.items()}
    most = max(len(items) for items in perfect.values())
    fewest = min(len(items) for items in perfect.values())
    for metric_id, params in [*CONFIGS, ("aibench.precision_at_k", {"k": fewest}),
                              ("aibench.recall_at_k", {"k": most})]:
        if metric_id == "aibench.precision_at_k" and params["k"] > fewest:
            continue
        if metric_id in ("aibench.map", "aibench.recall_at_k") and params.get("k", most) < most:
            continue
        assert compute(metric_id, params, [(perfect, qrels)]) == 1.0, (metric_id, params)


def test_trec_eval_values() -> None:
    """Expected values recorded from trec_eval (pytrec_eval-terrier 0.5.11, measures map,
    map_cut.3, ndcg, ndcg_cut.3, P.3, recall.3, recip_rank) on this run and qrels: ties among
    d2, d3, d4 rank d4 first; q2 has no relevant item; q3 is not in the run; q4 not judged."""
    run = [("q1", "d1", 0.9), ("q1", "d2", 0.5), ("q1", "d3", 0.5), ("q1", "d4", 0.5), ("q1", "d5", 0.1),
           ("q1", "d6", 0.3), ("q2", "a", 2.0), ("q2", "b", 1.0), ("q4", "x", 1.0)]
    qrels = [("q1", "d2", 1), ("q1", "d3", 2), ("q1", "d5", 1), ("q1", "d7", 3), ("q1", "d1", 0),
             ("q2", "a", 0), ("q2", "c", 0), ("q3", "z", 1)]
    q1 = {("aibench.map", None): 0.3333333333333333, ("aibench.map", 3): 0.08333333333333333,
          ("aibench.ndcg", None): 0.34412543750083285, ("aibench.ndcg", 3): 0.21000199575396408,
          ("aibench.precision_at_k", 3): 0.3333333333333333, ("aibench.recall_at_k", 3): 0.25,
          ("aibench.mrr", None): 0.3333333333333333}
    for (metric_id, k), value in q1.items():
        params = {} if k is None else {"k": k}
        skipped = compute(metric_id, {**params, "missing_queries": "skip"}, [(run, qrels)])
        assert skipped == pytest.approx(value / 2, rel=1e-12)  # trec_eval: mean over q1 and q2 (0)
        completed = compute(metric_id, params, [(run, qrels)])
        assert completed == pytest.approx(value / 3, rel=1e-12)  # trec_eval -c: q3 counts 0
    state = ranking.map_()
    state.update(predictions=run, references=qrels)
    assert state.per_query() == pytest.approx({"q1": q1[("aibench.map", None)], "q2": 0.0, "q3": 0.0})


def test_ties_are_ordered_by_item_id_descending() -> None:
    qrels = {"q": {"a": 1}}
    tied = [("q", "a", 1.0), ("q", "b", 1.0)]
    assert ranking.mrr.compute(predictions=tied, references=qrels) == 0.5  # b, then a
    assert ranking.precision_at_k.compute(predictions=tied, references=qrels, k=1) == 0.0
    assert ranking.mrr.compute(predictions={"q": {"a": 1.0, "b": 1.0}}, references=qrels) == 0.5
    assert ranking.mrr.compute(predictions=[("q", 1, 0.0), ("q", 10, 0.0)], references={"q": [1]}) == 0.5
    # a ranked list has no ties: its order is the ranking
    assert ranking.mrr.compute(predictions={"q": ["a", "b"]}, references=qrels) == 1.0
    with pytest.raises(ValueError, match="equal scores whose ids cannot be compared"):
        ranking.mrr.compute(predictions=[("q", 1, 0.0), ("q", "a", 0.0)], references=qrels)


def test_queries_without_relevant_items_count_as_zero() -> None:
    predictions = {"q1": ["a", "b"], "q2": ["c"]}
    for references in ({"q1": ["a"], "q2": []}, {"q1": {"a": 1}, "q2": {"c": 0}}):
        for metric in METRICS.values():
            k = {"k": 1} if metric.info.id in ("aibench.precision_at_k", "aibench.recall_at_k") else {}
            assert metric.compute(predictions=predictions, references=references, **k) == 0.5, metric.info.id


def test_missing_queries() -> None:
    references = {"q1": ["a"], "q2": ["b"]}
    assert ranking.map_.compute(predictions={"q1": ["a"]}, references=references) == 0.5
    assert ranking.map_.compute(predictions={"q1": ["a"]}, references=references, missing_queries="skip") == 1.0
    # an empty ranked list is no ranking (trec_eval)
    assert ranking.map_.compute(predictions={"q1": ["a"], "q2": []}, references=references,
                                missing_queries="skip") == 1.0
    # queries only in the predictions are not evaluated
    assert ranking.map_.compute(predictions={"q1": ["a"], "q9": ["z"]}, references={"q1": ["a"]}) == 1.0


def test_every_form_gives_the_same_scores() -> None:
    ranked = {"q1": ["d3", "d1", "d2"], "q2": ["d2", "d1"]}
    scored = {"q1": {"d3": 3.0, "d1": 2.0, "d2": 1.0}, "q2": {"d2": 5.0, "d1": 4.0}}
    run_rows = rows(scored)
    run_frame = pd.DataFrame(run_rows, columns=["query_id", "item_id", "score"])
    graded = {"q1": {"d1": 2.0, "d2": 1.0}, "q2": {"d1": 1.0, "d3": 0.0}}
    qrel_frame = pd.DataFrame(rows(graded), columns=["q", "doc", "rel"])  # any names: three columns in order
    dense_run = np.array([[2, 0, 1], [1, 0, 3]])  # item dN is column N-1; column 3 is an unjudged item
    dense_qrels = np.array([[2.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    for metric_id, params in CONFIGS:
        expected = compute(metric_id, params, [(ranked, graded)])
        assert close(expected, brute_force(metric_id, scored, graded, **params))
        for p, r in [(scored, graded), (run_rows, rows(graded)), (run_frame, qrel_frame),
                     (run_frame[["score", "item_id", "query_id"]], graded)]:
            assert close(compute(metric_id, params, [(p, r)]), expected), (metric_id, params)
        dense_expected = compute(metric_id, params, [({"q1": ["d3", "d1", "d2"], "q2": ["d2", "d1", "d4"]},
                                                      graded)])
        assert close(compute(metric_id, params, [(dense_run, dense_qrels)]), dense_expected)
    # binary references: a list of relevant ids
    assert ranking.ndcg.compute(predictions=ranked, references={"q1": ["d1"], "q2": ("d1",)}) == pytest.approx(
        (1 / math.log2(3) + 1 / math.log2(3)) / 2)


def test_gains_and_cutoffs() -> None:
    predictions = {"q": ["b", "a"]}
    references = {"q": {"a": 3, "b": 1}}
    linear = (1 + 3 / math.log2(3)) / (3 + 1 / math.log2(3))
    exponential = (1 + 7 / math.log2(3)) / (7 + 1 / math.log2(3))
    assert ranking.ndcg.compute(predictions=predictions, references=references) == pytest.approx(linear)
    assert ranking.ndcg.compute(predictions=predictions, references=references, gain="exponential") == \
        pytest.approx(exponential)
    assert ranking.ndcg.compute(predictions=predictions, references=references, k=1) == pytest.approx(1 / 3)
    # precision divides by k even when fewer items are ranked; AP divides by all relevant items
    assert ranking.precision_at_k.compute(predictions=predictions, references=references, k=10) == 0.2
    assert ranking.map_.compute(predictions={"q": ["a"]}, references=references) == 0.5
    assert ranking.map_.compute(predictions=predictions, references=references, k=1) == 0.5
    assert ranking.recall_at_k.compute(predictions=predictions, references=references, k=1) == 0.5
    assert ranking.mrr.compute(predictions={"q": ["x", "a"]}, references=references, k=1) == 0.0


def test_input_errors() -> None:
    m = ranking.map_
    with pytest.raises(ValueError, match="item 'a' of query 'q' is ranked twice"):
        m.compute(predictions={"q": ["a", "b", "a"]}, references={"q": ["a"]})
    with pytest.raises(ValueError, match="item 'a' of query 'q' is ranked twice"):
        m.compute(predictions=[("q", "a", 1.0), ("q", "a", 2.0)], references={"q": ["a"]})
    with pytest.raises(ValueError, match="item 'a' of query 'q' is judged 1.0 and 2.0"):
        m.compute(predictions={"q": ["a"]}, references=[("q", "a", 1), ("q", "a", 2)])
    with pytest.raises(ValueError, match=r"predictions\[1\] is \('q', 'b'\); each row is"):
        m.compute(predictions=[("q", "a", 1.0), ("q", "b")], references={"q": ["a"]})
    with pytest.raises(ValueError, match="item 'a' of query 'q' has value 'high'"):
        m.compute(predictions=[("q", "a", "high")], references={"q": ["a"]})
    with pytest.raises(ValueError, match="the other input is not"):
        m.compute(predictions=np.array([[0, 1]]), references={"q": ["a"]})
    with pytest.raises(ValueError, match="dense predictions must hold integer item ids"):
        m.compute(predictions=np.array([[0.5, 1.0]]), references=np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="rank an item twice in row 0"):
        m.compute(predictions=np.array([[1, 1]]), references=np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="must be 2-D with one row per query"):
        m.compute(predictions=np.array([[1, 0]]), references=np.array([[1.0, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="give columns query_id, item_id, score"):
        m.compute(predictions=pd.DataFrame({"a": [1], "b": [2], "c": [3], "d": [4]}), references={"q": ["a"]})
    with pytest.raises(ValueError, match=r"references\['q'\] is 'a'"):
        m.compute(predictions={"q": ["a"]}, references={"q": "a"})
    state = m()
    state.update(predictions={"q": ["a"]}, references={"q": ["a"]})
    with pytest.raises(ValueError, match="query 'q' is ranked in two batches"):
        state.update(predictions=[("q", "b", 1.0)], references={})
    with pytest.raises(ValueError, match="no query to evaluate"):
        m.compute(predictions={"q": ["a"]}, references={})
    with pytest.raises(ValueError, match="invalid params"):
        m(k=0)


def test_a_failed_batch_leaves_the_state_unchanged() -> None:
    state = ranking.ndcg()
    state.update(predictions=[("q", "a", 1.0)], references=[("q", "a", 1)])
    with pytest.raises(ValueError):
        state.update(predictions=[("q", "b", 1.0), ("q", "a", 0.5)], references=[("q", "b", 1)])
    assert state.runs == {"q": {"a": 1.0}} and state.qrels == {"q": {"a": 1.0}}


def test_pickle() -> None:
    state = ranking.ndcg(k=2)
    state.update(predictions={"q": ["a", "b"]}, references={"q": {"b": 2}})
    state.update(predictions=np.array([[1, 0]]), references=np.array([[1.0, 0.0]]))
    assert pickle.loads(pickle.dumps(state)).compute() == state.compute()


def test_infos_and_registration() -> None:
    host = PluginHost(strict=True)
    record = host.register_plugin(ranking, "aibench.ranking")
    assert record.status == "loaded" and record.provides["metric"] == sorted(METRICS)
    for metric_id in METRICS:
        info = host.registry(Kind.METRIC).get(metric_id).component.info
        assert info.description and info.bounds == (0.0, 1.0) and info.direction == "maximize" and info.citation
        assert info.params_schema["additionalProperties"] is False
        assert info.inputs["predictions"].kind == "ranking"
        assert type(info).from_json(info.to_json()) == info


@parametrize_with_checks([*METRICS.values(), (ranking.ndcg, {"k": 3, "gain": "exponential"}),
                          (ranking.map_, {"k": 2, "missing_queries": "skip"}), (ranking.mrr, {"k": 1})])
def test_plugin_kit_conformance(metric: object, check: MetricCheck) -> None:
    """The kit's generated dense inputs: (n, 5) rankings of item ids, (n, 3) 0/1 judgements."""
    check(metric)
