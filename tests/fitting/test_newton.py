"""The Huber polish's damped Newton solve."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaw as sl
from scalinglaw.fitting import _newton, _varpro
from scalinglaw.fitting._data import Batch, as_problem
from scalinglaw.fitting._flat import flatten
from scalinglaw.fitting.objectives import get_objective


def _positive_definite_in_rounding_only() -> np.ndarray:
    """A 5x5 matrix that eigvalsh calls positive-definite and LU calls singular (entries spanning hundreds
    of orders of magnitude, as a Hessian does with a huge coefficient in log coordinates)."""
    rng = np.random.default_rng(0)
    while True:
        v = rng.normal(size=5) * 10.0 ** rng.uniform(-150, 150, 5)
        M = np.outer(v, v) + np.diag(10.0 ** rng.uniform(-300, 0, 5)) * np.abs(v).max() ** 2 * 1e-30
        if np.linalg.eigvalsh(M).min() > 0:
            try:
                np.linalg.solve(M, np.ones(5))
            except np.linalg.LinAlgError:
                return M


def test_damped_newton_never_raises_and_returns_a_finite_step():
    """An exception here would escape from inside a batch of fits."""
    M = _positive_definite_in_rounding_only()
    step = _newton._damped_newton(M[None], np.ones((1, 5)), np.zeros(1), np.ones((1, 5), bool))
    assert np.isfinite(step).all()


def test_damped_newton_solves_a_well_posed_system():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3, 8, 5))
    H = np.einsum("jni,jnk->jik", X, X)
    g = rng.normal(size=(3, 5))
    move = np.ones((3, 5), bool)
    move[1, 2] = False  # a held variable does not move, and the others solve their own block
    step = _newton._damped_newton(H, g, np.zeros(3), move)
    np.testing.assert_allclose(step[0], np.linalg.solve(H[0], -g[0]), rtol=1e-10)
    assert step[1, 2] == 0
    keep = [0, 1, 3, 4]
    np.testing.assert_allclose(
        step[1, keep], np.linalg.solve(H[1][np.ix_(keep, keep)], -g[1, keep]), rtol=1e-10
    )


@settings(max_examples=200, deadline=None)
@given(
    r=st.floats(-0.1, 0.1, allow_nan=False),
    s=st.floats(-0.1, 0.1, allow_nan=False),
    objective=st.sampled_from(["huber_log", "lsq"]),
)
def test_psi_over_r_is_the_curvature_of_a_majorizer(r, s, objective):
    """The parabola rho(r) + psi_over_r(r) (s^2 - r^2) / 2 touches rho at r and lies above it everywhere:
    a step that lowers it lowers the objective (what the stalled Huber polish relies on)."""
    obj = get_objective(objective)
    rho = lambda x: float(obj.rho(np.array([x]))[0])  # noqa: E731
    k = float(obj.psi_over_r(np.array([r]))[0])
    assert rho(s) <= rho(r) + 0.5 * k * (s * s - r * r) + 1e-15


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), shift=st.floats(-0.2, 0.5))
def test_a_probe_polishes_the_variables_it_does_not_pin(seed, shift):
    """A bound probe's polish (alpha pinned off the optimum) leaves alpha to the bit, lowers the objective
    from its start, and cannot go below the free optimum."""
    runs = sl.simulate.family(seed=seed, noise=0.01)
    law, obj = sl.laws.chinchilla(), get_objective("huber_log")
    fit = sl.fit(runs, law, objective="huber_log")
    flat = flatten(Batch.of_tables([as_problem(runs, law.inputs)]), *law.inputs)
    spec = _varpro.Spec.from_law(law)
    p = fit.params
    alpha = min(max(p["alpha"] + shift, 0.0), 5.0)
    scale = spec.scales(flat.ref1, flat.ref2, np.array([alpha]), np.array([p["beta"]]))[0]
    z0 = np.array([[p["E"], p["A"] * scale[1], alpha, p["B"] * scale[2], p["beta"]]])
    pinned = np.array([[False, False, True, False, False]])
    z, f, _ = _newton.polish(flat, spec, obj, z0, pinned)
    assert z[0, 2] == alpha
    assert f[0] <= _newton.value(flat, spec, obj, z0)[0]
    assert f[0] >= fit.value * (1 - 1e-9)
