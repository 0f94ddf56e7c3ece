"""Least squares merges a fit's rows that share both inputs into one point: the objective, the screen and
the fit are those of the rows themselves."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaw as sl
from scalinglaw.fitting import _varpro
from scalinglaw.fitting._data import Batch, as_problem
from scalinglaw.fitting._flat import flatten, headed_bounds, lowest_of_each

INPUTS = ("n_params", "n_tokens")


def _with_repeats(seed: int) -> pd.DataFrame:
    """A synthetic family where some rows repeat another's inputs with a different loss and weight."""
    rng = np.random.default_rng(seed)
    runs = sl.simulate.family(seed=int(rng.integers(2**31)), noise=0.01)
    again = runs.sample(frac=0.4, random_state=int(rng.integers(2**31)))
    again = again.assign(loss=again["loss"] * rng.uniform(0.97, 1.03, len(again)))
    out = pd.concat([runs, again, again.iloc[: len(again) // 3]], ignore_index=True)
    return out.assign(weight=rng.uniform(0.5, 2.0, len(out)))


def _both(batch: Batch):
    merged, rows = (flatten(batch, *INPUTS, merge=m) for m in (True, False))
    assert merged.merged and len(merged.y) < len(rows.y)
    return merged, rows


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), held=st.sampled_from([{}, {"A": 300.0}, {"E": 1.7}]))
def test_merged_points_give_the_rows_profile_and_fit(seed, held):
    rng = np.random.default_rng(seed)
    runs = _with_repeats(seed)
    spec = _varpro.Spec.from_law(sl.laws.chinchilla().fix(**held))
    merged, rows = _both(Batch.of_tables([as_problem(runs, INPUTS)]))
    theta = rng.uniform([0.1, 0.1], [1.2, 1.2], size=(1, 2))
    f_merged, f_rows = (
        _varpro._evaluate(flat, spec, _varpro._constant_sums(flat), theta).f for flat in (merged, rows)
    )
    np.testing.assert_allclose(f_merged, f_rows, rtol=1e-11)
    a, b = _varpro.solve(merged, spec), _varpro.solve(rows, spec)
    assert a.converged.all() and b.converged.all()
    np.testing.assert_allclose(a.value, b.value, rtol=1e-10)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_merged_points_give_the_rows_screen_on_subsets(seed):
    rng = np.random.default_rng(seed)
    table = as_problem(_with_repeats(seed), INPUTS)
    subsets = [rng.random(len(table.loss)) < p for p in (0.5, 0.8, 1.0)]
    merged, rows = _both(Batch.of_subsets(table, subsets))
    assert merged.shared is not None
    rows = replace(rows, shared=None)  # point by point: checks the shared view's sums too
    spec = _varpro.Spec.from_law(sl.laws.chinchilla())
    q_merged, q_rows = (
        _varpro._grid_profile(flat, spec, _varpro._constant_sums(flat))[0] for flat in (merged, rows)
    )
    finite = np.isfinite(q_rows)
    assert (np.isfinite(q_merged) == finite).all()
    np.testing.assert_allclose(q_merged[finite], q_rows[finite], rtol=1e-9)


def test_a_fit_on_repeated_rows_reports_the_rows():
    runs = _with_repeats(7)
    fit = sl.fit(runs)
    residual = runs["loss"] - fit.predict(runs["n_params"], runs["n_tokens"])
    assert fit.n_points == len(runs)
    np.testing.assert_allclose(fit.value, float(np.sum(runs["weight"] * residual**2)), rtol=1e-12)


def test_screening_in_chunks_matches_screening_at_once(monkeypatch):
    rng = np.random.default_rng(3)
    table = as_problem(_with_repeats(3), INPUTS)
    flat = flatten(
        Batch.of_subsets(table, [rng.random(len(table.loss)) < p for p in (0.5, 0.7, 0.9)]),
        *INPUTS,
        merge=True,
    )
    spec = _varpro.Spec.from_law(sl.laws.chinchilla())
    const = _varpro._constant_sums(flat)
    at_once = _varpro._candidates(flat, spec, const)
    monkeypatch.setattr(_varpro, "MAX_GRID_CELLS", 1)  # one fit a chunk
    for a, b in zip(at_once, _varpro._candidates(flat, spec, const), strict=True):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=100, deadline=None)
@given(
    owners=st.lists(st.integers(0, 4), max_size=12),
    values=st.lists(st.sampled_from([0.5, 1.0, 2.0, np.inf, np.nan]), min_size=12, max_size=12),
)
def test_lowest_of_each_picks_each_owners_lowest_finite_job_first_of_ties(owners, values):
    owners, f = np.array(owners, dtype=np.int64), np.array(values[: len(owners)])
    expected = np.full(5, -1)
    for k in range(5):
        mine = [j for j in range(len(f)) if owners[j] == k and np.isfinite(f[j])]
        if mine:
            expected[k] = min(mine, key=lambda j: (f[j], j))
    np.testing.assert_array_equal(lowest_of_each(owners, f, 5), expected)


@settings(max_examples=100, deadline=None)
@given(
    theta=st.lists(st.tuples(*[st.sampled_from([0.0, 0.3, 0.3005, 1.0, 5.0])] * 2), max_size=6),
    before=st.lists(st.tuples(*[st.sampled_from([0.0, 0.3, 1.0, 5.0])] * 2), min_size=6, max_size=6),
    lo=st.sampled_from([0.0, -np.inf]),
)
def test_headed_bounds_lists_each_exponent_moving_towards_a_finite_bound(theta, before, lo):
    theta, before = np.array(theta).reshape(-1, 2), np.array(before[: len(theta)]).reshape(-1, 2)
    lows, highs = np.array([lo, 0.0]), np.array([5.0, np.inf])
    expected = []
    for k in range(2):
        for j in range(len(theta)):
            moved = theta[j, k] - before[j, k]
            bound = highs[k] if moved > 0 else lows[k]
            if abs(moved) >= 1e-3 and np.isfinite(bound) and theta[j, k] != bound:
                expected.append((j, k, bound))
    job, k, bound = headed_bounds(theta, before, lows, highs, 1e-3)
    assert list(zip(job.tolist(), k.tolist(), bound.tolist(), strict=True)) == expected
