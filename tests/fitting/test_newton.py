"""The Huber polish's damped Newton solve."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import scalinglaw as sl
from scalinglaw.fitting import _newton, _varpro
from scalinglaw.fitting._data import Batch, as_problem
from scalinglaw.fitting._flat import Flat, flatten
from scalinglaw.fitting.objectives import Objective, get_objective


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
    psi_over_r are the weights of an IRLS step, which the Huber path scores its screening grid with."""
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


def _flat_of(n_points: list[int], w: np.ndarray) -> Flat:
    """A Flat of fits with these numbers of points (one segment each) and weights; only the grouping and
    the weights matter to the line search."""
    k, total = len(n_points), int(sum(n_points))
    fit_start = np.concatenate([[0], np.cumsum(n_points)[:-1]])
    zeros = np.zeros(k)
    return Flat(
        l2=np.zeros(total), y=np.zeros(total), w=w, seg_start=fit_start, seg_l1=zeros,
        seg_fit=np.arange(k), fit_start=fit_start, fit_seg=np.arange(k), ref1=zeros, ref2=zeros,
        ymean=zeros, seg_yy=zeros,
    )  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n_points=st.lists(st.integers(1, 25), min_size=1, max_size=4),
    spread=st.sampled_from([0.5, 3.0, 30.0]),
)
def test_the_line_search_stops_at_the_lowest_point_past_the_kinks(seed, n_points, spread):
    """Along a ray, sum w H_delta(t + s q) + a s + b s^2 / 2 is convex and piecewise quadratic, with a kink
    wherever a point crosses +-delta. The line search returns its minimiser over s >= 0: the derivative is
    0 there (or not negative at s = 0), and no s on a fine scan, nor any kink, is lower."""
    rng = np.random.default_rng(seed)
    delta = get_objective("huber_log").delta
    total = sum(n_points)
    t = rng.uniform(-spread, spread, total) * delta
    q = rng.normal(size=total) * delta * np.where(rng.random(total) < 0.1, 0.0, 1.0)  # some do not move
    flat = _flat_of(n_points, rng.uniform(0.1, 2.0, total))
    a = rng.normal(size=len(n_points)) * delta * delta * total
    b = rng.uniform(1e-6, 1.0, len(n_points)) * delta * delta
    s = _newton._line_minimum(flat, t, q, delta, a, b)
    obj = get_objective("huber_log")
    starts = np.append(flat.fit_start, total)
    for j in range(len(n_points)):
        tj, qj, wj = (x[starts[j] : starts[j + 1]] for x in (t, q, flat.w))
        moving = qj != 0

        def phi(x, tj=tj, qj=qj, wj=wj, j=j):
            x = np.atleast_1d(x)
            return (wj * obj.rho(tj + x[:, None] * qj)).sum(axis=1) + a[j] * x + 0.5 * b[j] * x * x

        kinks = np.concatenate([(delta - tj[moving]) / qj[moving], (-delta - tj[moving]) / qj[moving]])
        far = max(10 * s[j], 10 * np.abs(kinks).max(initial=0.0), 10 * abs(a[j]) / b[j], 1.0)
        candidates = np.concatenate([np.linspace(0, far, 2001), kinks[kinks > 0]])
        slope = (wj * obj.psi(tj + s[j] * qj) * qj).sum() + a[j] + b[j] * s[j]
        scale = (wj * delta * np.abs(qj)).sum() + abs(a[j]) + b[j] * s[j]
        assert s[j] >= 0
        assert abs(slope) <= 1e-9 * scale if s[j] > 0 else slope >= -1e-12 * scale
        assert phi(s[j])[0] <= phi(candidates).min() + 1e-12 * (abs(phi(s[j])[0]) + delta * delta)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lam=st.sampled_from([1e-8, 1e-4, 1.0]), nudge=st.floats(0.01, 0.2))
def test_a_linearised_step_minimises_the_linearised_objective(seed, lam, nudge):
    """With the residuals linearised at z, the step's point is as low on sum w H_delta(r + J d) + lam d'Dd / 2
    as an L-BFGS-B minimisation of it gets, and the decrease it reports is that sum's without the damping."""
    from scipy.optimize import minimize

    runs = sl.simulate.family(seed=seed, noise=0.02)
    law, obj = sl.laws.chinchilla(), get_objective("huber_log")
    flat = flatten(Batch.of_tables([as_problem(runs, law.inputs)]), *law.inputs)
    spec = _varpro.Spec.from_law(law)
    p = sl.fit(runs, law, objective="huber_log").params
    alpha, beta = p["alpha"] * (1 + nudge), p["beta"] * (1 - nudge)
    scale = spec.scales(flat.ref1, flat.ref2, np.array([alpha]), np.array([beta]))[0]
    z = np.array([[p["E"] * (1 - nudge / 10), p["A"] * scale[1], alpha, p["B"] * scale[2], beta]])
    lo, hi = _newton._bounds(flat, spec, z)
    move = np.ones((1, 5), bool)
    sy = obj.scale(flat.loss)
    trial, predicted = _newton._linearised_step(flat, spec, obj, sy, z, lo, hi, np.array([lam]), move)
    pred, grad = _newton._jacobian(flat, spec, z)
    r, jac = obj.scale(pred) - sy, (grad / pred).T
    D = (flat.w[:, None] * jac * jac).sum(axis=0)

    def model(d, damped=True):
        return float(flat.w @ obj.rho(r + jac @ d) + damped * 0.5 * lam * (D * d * d).sum())

    def gradient(d):
        return jac.T @ (flat.w * obj.psi(r + jac @ d)) + lam * D * d

    bounds = list(zip(lo[0] - z[0], hi[0] - z[0], strict=True))
    best = minimize(model, np.zeros(5), jac=gradient, method="L-BFGS-B", bounds=bounds, tol=1e-15)
    ours = model(trial[0] - z[0])
    assert ours <= min(best.fun, model(np.zeros(5))) + 1e-9 * model(np.zeros(5))
    np.testing.assert_allclose(predicted[0], model(np.zeros(5), False) - model(trial[0] - z[0], False))


#: Objectives whose value is twice differentiable everywhere, so that finite differences check the exact
#: Hessian: squared error (on the loss), and Huber on log-loss with every residual in its quadratic zone
#: or every one in its linear zone (then only the curvature of ln L_hat is left).
_SMOOTH = {
    "lsq": get_objective("lsq"),
    "log, quadratic zone": Objective("log_quadratic", log_space=True, delta=1e6),
    "log, linear zone": Objective("log_linear", log_space=True, delta=1e-12),
}


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    objective=st.sampled_from(sorted(_SMOOTH)),
    held=st.sampled_from([(), ("A", "alpha"), ("E",), ("B",)]),
)
def test_the_polish_has_the_objectives_exact_gradient_and_hessian(seed, objective, held):
    """The Newton polish's gradient and Hessian are those of the objective it is handed, in every variable
    (E, c1, alpha, c2, beta), with coefficients held or not: central differences of the objective and of
    the gradient agree with them."""
    rng = np.random.default_rng(seed)
    runs = sl.simulate.family(seed=seed, noise=0.01)
    truth = {"E": 1.8, "A": 400.0, "alpha": 0.3, "B": 900.0, "beta": 0.28}
    law = sl.laws.chinchilla().fix(**{n: truth[n] for n in held}) if held else sl.laws.chinchilla()
    obj = _SMOOTH[objective]
    flat = flatten(Batch.of_tables([as_problem(runs, law.inputs)]), *law.inputs)
    spec = _varpro.Spec.from_law(law)
    alpha, beta = rng.uniform(0.1, 0.8, 2)
    scale = spec.scales(flat.ref1, flat.ref2, np.array([alpha]), np.array([beta]))[0]
    z = np.array([[rng.uniform(0.5, 2.0), rng.uniform(0.05, 2.0), alpha, rng.uniform(0.05, 2.0), beta]])
    z[0, [1, 3]] *= scale[1:]
    sy = obj.scale(flat.loss)
    g, H = _newton._derivatives(flat, spec, obj, sy, z)
    free = [not spec.held[0], not spec.held[1], True, not spec.held[2], True]
    for i in np.flatnonzero(free):
        h = 1e-6 * max(1.0, abs(z[0, i]))
        up, down = z.copy(), z.copy()
        up[0, i] += h
        down[0, i] -= h
        slope = (_newton.value(flat, spec, obj, up) - _newton.value(flat, spec, obj, down))[0] / (2 * h)
        row = (
            _newton._derivatives(flat, spec, obj, sy, up)[0]
            - _newton._derivatives(flat, spec, obj, sy, down)[0]
        )
        np.testing.assert_allclose(g[0, i], slope, rtol=1e-5, atol=1e-7 * np.abs(g[0]).max())
        np.testing.assert_allclose(
            H[0, i, free],
            row[0, free] / (2 * h),
            rtol=1e-5,
            atol=1e-6 * np.abs(H[0][np.ix_(free, free)]).max(),
        )
