"""case_weights: the multinomial count vectors of a paired bootstrap over cases."""

from __future__ import annotations

import numpy as np
import pytest

from aibench_plugins.stats import case_weights


def test_shapes_sums_and_chunks() -> None:
    chunks = list(case_weights(50, 600, seed=4, chunk=256))
    assert [c.shape for c in chunks] == [(256, 50), (256, 50), (88, 50)]
    weights = np.vstack(chunks)
    assert (weights.sum(axis=1) == 50).all() and weights.min() >= 0
    # each case is drawn once per replicate on average, with the multinomial's variance 1 - 1/n
    assert weights.mean() == pytest.approx(1.0)
    assert weights.var() == pytest.approx(1 - 1 / 50, rel=0.05)


def test_the_chunking_changes_nothing() -> None:
    big = np.vstack(list(case_weights(37, 100, seed=9, chunk=256)))
    small = np.vstack(list(case_weights(37, 100, seed=9, chunk=7)))
    assert np.array_equal(big, small)


def test_the_same_seed_gives_the_same_weights_and_another_others() -> None:
    first = np.vstack(list(case_weights(20, 30, seed=1)))
    assert np.array_equal(first, np.vstack(list(case_weights(20, 30, seed=1))))
    assert not np.array_equal(first, np.vstack(list(case_weights(20, 30, seed=2))))


def test_weighted_means_are_the_bootstrap_of_the_mean() -> None:
    values = np.random.default_rng(0).exponential(size=200)
    weights = np.vstack(list(case_weights(200, 4000, seed=3)))
    replicates = weights @ values / 200
    assert replicates.mean() == pytest.approx(values.mean(), rel=0.01)
    assert replicates.std() == pytest.approx(values.std() / np.sqrt(200), rel=0.05)


@pytest.mark.parametrize(("n_cases", "n_boot", "chunk"), [(0, 5, 2), (5, 0, 2), (5, 5, 0)])
def test_empty_requests_are_refused(n_cases: int, n_boot: int, chunk: int) -> None:
    with pytest.raises(ValueError, match="needs n_cases, n_boot and chunk > 0"):
        next(case_weights(n_cases, n_boot, seed=0, chunk=chunk))
