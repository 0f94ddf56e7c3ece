"""The variable-projection solver's parts: the polish's derivatives agree with finite differences of the
profile, pinned exponents stay put, bound probes end crawls, starts are distinct grid minima."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaw as sl
from scalinglaw.fitting import _huber, _newton, _varpro
from scalinglaw.fitting._data import Batch, as_problem
from scalinglaw.fitting._flat import flatten
from scalinglaw.fitting.objectives import get_objective

STENCIL = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    noise=st.sampled_from([0.001, 0.05]),
    held=st.sampled_from([{}, {"A": 300.0}, {"B": 900.0}, {"E": 1.7}]),
)
def test_gradient_and_hessian_match_differences_of_the_profile(seed, noise, held):
    rng = np.random.default_rng(seed)
    runs = sl.simulate.family(seed=int(rng.integers(2**31)), noise=noise)
    spec = _varpro.Spec.from_law(sl.laws.chinchilla().fix(**held))
    flat = flatten(Batch.of_tables([as_problem(runs, ("n_params", "n_tokens"))]), "n_params", "n_tokens")
    const = _varpro._constant_sums(flat)
    theta = rng.uniform([0.15, 0.15], [0.8, 0.8])[None, :]
    h = 1e-4
    points = theta + h * STENCIL
    copies = np.zeros(len(points), np.int64)
    around = _varpro._evaluate(flat.take(copies), spec, _varpro._of_fits(const, flat, copies), points)
    if (around.interior != around.interior[0]).any():
        return  # the stencil straddles a kink of the profile (the inner solution changes face)
    f = around.f
    g, H, _, exact = _varpro._derivatives(flat, spec, const, _varpro._evaluate(flat, spec, const, theta))
    # the profile's gradient is -2 g and its Hessian 2 H (where it curves upwards along both exponents)
    gradient = np.array([f[1] - f[2], f[3] - f[4]]) / (2 * h)
    curvature = (
        np.array(
            [
                [f[1] - 2 * f[0] + f[2], (f[5] - f[6] - f[7] + f[8]) / 4],
                [(f[5] - f[6] - f[7] + f[8]) / 4, f[3] - 2 * f[0] + f[4]],
            ]
        )
        / h**2
    )
    scale = np.abs(curvature).max()
    np.testing.assert_allclose(-2 * g[0], gradient, rtol=0, atol=1e-6 * scale + 1e-12)
    if (np.diag(curvature) > 1e-3 * scale).all():
        assert exact[0], "where the profile curves upwards along both exponents, H is its exact Hessian"
        np.testing.assert_allclose(2 * H[0], curvature, rtol=0, atol=1e-4 * scale)


def _distinct_starts_one_by_one(owners, z0, f0):
    """The rule written out start by start: in order of (fit, objective), keep a start unless it is
    within 1e-7 (relative, every variable) of one its fit kept before."""
    keep = []
    for j in np.lexsort((np.arange(len(owners)), f0, owners)):
        if not any(owners[i] == owners[j] and np.allclose(z0[i], z0[j], rtol=1e-7, atol=0) for i in keep):
            keep.append(j)
    return np.array(keep, dtype=np.int64)


@settings(max_examples=200, deadline=None)
@given(
    owners=st.lists(st.integers(0, 2), min_size=1, max_size=14),
    seed=st.integers(0, 2**31),
    twins=st.integers(0, 6),
)
def test_distinct_starts_drop_each_fits_near_duplicates(owners, seed, twins):
    rng = np.random.default_rng(seed)
    owners = np.array(owners)
    z0 = rng.normal(size=(len(owners), 5))
    f0 = rng.choice([1.0, 2.0, 3.0], size=len(owners))  # ties in the objective too
    for _ in range(twins):  # starts within (or just past) the tolerance of the one before: chains form
        j = rng.integers(1, len(owners)) if len(owners) > 1 else 0
        z0[j] = z0[j - 1] * (1 + rng.choice([0.0, 6e-8, 5e-7]))
    kept = _distinct_starts_one_by_one(owners, z0, f0)
    got_owners, got_z, promising = _huber._distinct_starts(owners, z0, f0)
    np.testing.assert_array_equal(got_owners, owners[kept])
    np.testing.assert_array_equal(got_z, z0[kept])
    best = {k: f0[kept][owners[kept] == k].min() for k in set(owners[kept].tolist())}
    expected = f0[kept] <= np.array([best[k] * (1 + _varpro.CANDIDATE_SPREAD) for k in owners[kept]])
    np.testing.assert_array_equal(promising, expected)


def test_a_start_close_only_to_a_dropped_start_is_kept():
    z = np.ones((3, 5))
    z[1] *= 1 + 6e-8  # close to start 0: dropped
    z[2] *= 1 + 1.2e-7  # close to start 1 only, which is gone: kept
    _, kept, _ = _huber._distinct_starts(np.zeros(3, np.int64), z, np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(kept, z[[0, 2]])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), sizes=st.sampled_from([[1, 2], [2, 1, 3]]))
def test_grid_minima_are_those_of_the_huber_objective(seed, sizes):
    """Each start is a grid cell (the surrogate's inner solution there) whose Huber objective is the one
    reported and below the bar; each fit's first is its grid's lowest local minimum (the others are
    minima of the screen's score, which also counts the dips parabolas show between grid lines)."""
    rng = np.random.default_rng(seed)
    tables = []
    for n_sizes in sizes:  # few points, one of them an outlier
        runs = sl.simulate.family(seed=int(rng.integers(2**31)), noise=0.01)
        runs = runs[runs["n_params"].isin(np.unique(runs["n_params"])[:n_sizes])].iloc[::3].copy()
        runs.iloc[int(rng.integers(len(runs))), runs.columns.get_loc("loss")] *= 1.2
        tables.append(as_problem(runs, ("n_params", "n_tokens")))
    flat = flatten(Batch.of_tables(tables), "n_params", "n_tokens")
    spec = _varpro.Spec.from_law(sl.laws.chinchilla())
    obj = get_objective("huber_log")
    surrogate = flat.with_weights(flat.w / flat.loss**2)
    bar = np.full(flat.n_fits, np.inf)
    owners, z, f = _huber._grid_minima(flat, surrogate, spec, obj, bar)
    assert set(owners.tolist()) == set(range(flat.n_fits))
    np.testing.assert_array_equal(f, _newton.value(flat.take(owners), spec, obj, z))
    ga, gb = spec.grid(0), spec.grid(1)
    first = np.flatnonzero(np.diff(owners, prepend=-1))
    for k, zk, fk in zip(owners[first], z[first], f[first], strict=True):
        a, b = np.flatnonzero(ga == zk[2])[0], np.flatnonzero(gb == zk[4])[0]
        neighbours = [
            (i, j)
            for i in range(max(a - 1, 0), min(a + 2, len(ga)))
            for j in range(max(b - 1, 0), min(b + 2, len(gb)))
        ]
        cells = np.array([[ga[i], gb[j]] for i, j in neighbours])
        one = np.zeros(len(cells), np.int64)
        inner = _varpro._evaluate(
            surrogate.take(one + k),
            spec,
            _varpro._of_fits(_varpro._constant_sums(surrogate), surrogate, one + k),
            cells,
        )
        zn = np.column_stack(
            [inner.c[:, 0] + flat.ymean[k], inner.c[:, 1], cells[:, 0], inner.c[:, 2], cells[:, 1]]
        )
        assert fk <= _newton.value(flat.take(one + k), spec, obj, zn).min() * (1 + 1e-12)
    # given each fit's best start so far, the grid's starts are those within CANDIDATE_SPREAD of it
    best = np.full(flat.n_fits, np.inf)
    np.minimum.at(best, owners, f)
    best *= 0.9
    near = f <= best[owners] * (1 + _varpro.CANDIDATE_SPREAD)
    kept_owners, kept_z, kept_f = _huber._grid_minima(flat, surrogate, spec, obj, best)
    np.testing.assert_array_equal(kept_owners, owners[near])
    np.testing.assert_array_equal(kept_z, z[near])
    np.testing.assert_array_equal(kept_f, f[near])
    # The Huber path's grid starts: these, and the grid's minima with the surrogate reweighted by one IRLS
    # step at each fit's best start (weights psi(r) / r)
    best_z = z[first]
    r = obj.residual(_newton.prediction(flat, spec, best_z), flat.loss)
    reweighted = surrogate.with_weights(surrogate.w * obj.psi_over_r(r))
    more_owners, more_z, more_f = _huber._grid_minima(flat, reweighted, spec, obj, best)
    got = _huber._exact_grid_starts(flat, surrogate, spec, obj, best, best_z)
    np.testing.assert_array_equal(got[0], np.concatenate([kept_owners, more_owners]))
    np.testing.assert_array_equal(got[1], np.concatenate([kept_z, more_z]))
    np.testing.assert_array_equal(got[2], np.concatenate([kept_f, more_f]))


def _one_fit(runs):
    """(flat, spec, constant sums) of one least-squares fit of the Chinchilla form to ``runs``."""
    flat = flatten(
        Batch.of_tables([as_problem(runs, ("n_params", "n_tokens"))]), "n_params", "n_tokens", True
    )
    return flat, _varpro.Spec.from_law(sl.laws.chinchilla()), _varpro._constant_sums(flat)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.sampled_from([-0.2, 0.15, 0.6]))
def test_a_pinned_exponent_stays_and_the_other_is_polished(seed, shift):
    """With alpha pinned off the optimum, the polish leaves alpha to the bit, ends no higher than it starts
    and no lower than the free optimum, and beta is at the bottom of its own profile there."""
    runs = sl.simulate.family(seed=seed, noise=0.01)
    fit = sl.fit(runs)
    flat, spec, const = _one_fit(runs)
    alpha = fit.params["alpha"] + shift
    theta0 = np.array([[alpha, fit.params["beta"] + 0.05]])
    theta, f, _, converged = _varpro._polish(
        flat, spec, theta0, np.array([0.1]), const, np.array([[True, False]])
    )
    assert converged[0] and theta[0, 0] == alpha
    assert f[0] <= _varpro._evaluate(flat, spec, const, theta0).f[0]
    assert f[0] >= fit.value * (1 - 1e-9)
    betas = theta[0, 1] + np.linspace(-1e-3, 1e-3, 9)
    copies = np.zeros(len(betas), np.int64)
    around = _varpro._evaluate(
        flat.take(copies),
        spec,
        _varpro._of_fits(const, flat, copies),
        np.column_stack([np.full(9, alpha), betas]),
    )
    assert f[0] <= around.f.min() * (1 + 1e-12)


def test_a_job_crawling_to_a_bound_probes_it():
    """Two sizes, and a loss level that E >= 0 cannot reach: E sits on its bound and the profile falls
    towards alpha's upper bound. A job headed there, probed, lands on the optimum at the bound."""
    runs = sl.simulate.family(
        params={**sl.simulate.BESIROGLU_2024, "E": -0.5}, sizes=(1e8, 4e8), noise=0.003, seed=0
    )
    fit = sl.fit(runs)
    assert fit.success and set(fit.at_bound) == {"E", "alpha"} and fit.params["alpha"] == 5.0
    flat, spec, const = _one_fit(runs)
    theta = np.array([[1.0, fit.params["beta"]]])
    cur = _varpro._evaluate(flat, spec, const, theta)
    step = np.array([[0.05, 0.0]])
    moved = theta - step  # alpha was rising
    new, jumped = _varpro._probe_bounds(
        flat, spec, const, cur, moved, np.ones(1, bool), np.zeros((1, 2), bool), np.array([0.1])
    )
    assert jumped[0] and new.theta[0, 0] == 5.0
    assert new.f[0] <= fit.value * (1 + 1e-9)
    # a job whose exponent barely moved, or that is told it was falling, stays where it is
    for before in (theta - step / 100, theta + step):
        same, jumped = _varpro._probe_bounds(
            flat, spec, const, cur, before, np.ones(1, bool), np.zeros((1, 2), bool), np.array([0.1])
        )
        assert not jumped[0] and same.theta[0, 0] == 1.0


def test_a_job_near_an_interior_optimum_does_not_probe(monkeypatch):
    """Where the bound an exponent moves towards is far worse with the other exponent held (the job is not
    headed there), the probe does not polish it and the job stays."""
    runs = sl.simulate.family(seed=4, noise=0.01)
    fit = sl.fit(runs)
    flat, spec, const = _one_fit(runs)

    def no_polish(*args):
        raise AssertionError("the probe polished a bound the job is not headed for")

    monkeypatch.setattr(_varpro, "_polish", no_polish)
    theta = np.array([[fit.params["alpha"] - 0.01, fit.params["beta"]]])
    cur = _varpro._evaluate(flat, spec, const, theta)
    same, jumped = _varpro._probe_bounds(
        flat,
        spec,
        const,
        cur,
        theta + np.array([[0.05, 0.0]]),
        np.ones(1, bool),
        np.zeros((1, 2), bool),
        np.array([0.1]),
    )
    assert not jumped[0]
    np.testing.assert_array_equal(same.theta, theta)
