"""The vectorised bound-constrained 3x3 least squares agrees with SciPy's lsq_linear."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

from scalinglaw.fitting import _boxlsq
from scalinglaw.fitting._boxlsq import box_lsq


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    with_upper=st.booleans(),
    held=st.tuples(st.booleans(), st.booleans(), st.booleans()),
)
def test_matches_lsq_linear(seed, with_upper, held):
    rng = np.random.default_rng(seed)
    n = 40
    X = np.column_stack(
        [np.ones(n), rng.uniform(0.2, 3, n) ** rng.uniform(-1.5, 1.5), rng.uniform(0.2, 3, n)]
    )
    y = X @ rng.normal(0.5, 1.0, 3) + rng.normal(0, 0.1, n)
    lo = np.zeros(3)
    hi = np.full(3, 0.8 if with_upper else np.inf)
    held_values = rng.uniform(0, 0.5, 3)
    lo = np.where(held, held_values, lo)
    hi = np.where(held, held_values, hi)
    G, b, yy = X.T @ X, X.T @ y, y @ y
    q, c, interior = box_lsq(G[None], b[None], np.array([yy]), lo[None], hi[None], held)
    free = ~np.array(held)
    r = y - X[:, ~free] @ held_values[~free]
    if free.any():
        ref = lsq_linear(X[:, free], r, bounds=(lo[free], hi[free]), tol=1e-14, method="bvls").x
        full = held_values.copy()
        full[free] = ref
    else:
        full = held_values
    ref_q = np.sum((y - X @ full) ** 2)
    assert q[0] <= ref_q + 1e-9 * (1 + ref_q)
    assert abs(np.sum((y - X @ c[0]) ** 2) - q[0]) <= 1e-8 * (1 + q[0]), "q must be the objective at c"
    assert np.all(c[0] >= lo - 1e-12) and np.all(c[0] <= hi + 1e-12)
    assert not interior[0][np.array(held)].any()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), upper=st.booleans())
def test_batch_size_does_not_change_answers(seed, upper):
    """Small batches solve all faces at once, large ones the interior face and then the others for the
    problems off it: both routes give the same minimiser, whatever a problem's neighbours."""
    rng = np.random.default_rng(seed)
    n, m = 30, 50
    X = np.stack(
        [
            np.column_stack([np.ones(n), rng.uniform(0.2, 3, n), rng.uniform(0.2, 3, n) ** -1])
            for _ in range(m)
        ]
    )
    y = np.einsum("mnk,mk->mn", X, rng.normal(0.3, 1.0, (m, 3))) + rng.normal(0, 0.1, (m, n))
    G, b, yy = np.einsum("mni,mnj->mij", X, X), np.einsum("mni,mn->mi", X, y), np.einsum("mn,mn->m", y, y)
    lo, hi = np.zeros(3), np.full(3, 0.5 if upper else np.inf)
    held = (False, False, False)
    small = box_lsq(G, b, yy, lo, hi, held)
    saved = _boxlsq.ALL_FACES_AT_ONCE
    _boxlsq.ALL_FACES_AT_ONCE = 0
    try:
        large = box_lsq(G, b, yy, lo, hi, held)
    finally:
        _boxlsq.ALL_FACES_AT_ONCE = saved
    one_by_one = [box_lsq(G[i : i + 1], b[i : i + 1], yy[i : i + 1], lo, hi, held) for i in range(m)]
    assert small[0].min() < np.inf
    for route in (large, tuple(np.concatenate(parts) for parts in zip(*one_by_one, strict=True))):
        np.testing.assert_allclose(route[0], small[0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(route[1], small[1], rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(route[2], small[2])


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    held=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    with_upper=st.booleans(),
)
def test_entries_that_broadcast_give_the_expanded_answers(seed, held, with_upper):
    """The screen hands box_min each entry shaped by what it depends on (a grid's rows or columns): the
    answers are those of the same problems written out in full."""
    rng = np.random.default_rng(seed)
    n, rows, cols = 25, 4, 5
    x1, x2 = rng.uniform(0.5, 3, n), rng.uniform(0.5, 3, n)
    u = x1[None, :] ** -rng.uniform(0.1, 1.5, rows)[:, None]  # basis that varies along rows
    v = x2[None, :] ** -rng.uniform(0.1, 1.5, cols)[:, None]  # ... and along columns
    y = 1.0 + 0.5 * u[0] + 0.3 * v[0] + rng.normal(0, 0.05, n)
    ones = np.ones(n)
    G = (
        np.array(ones @ ones).reshape(1, 1),
        (u @ ones)[:, None],
        (v @ ones)[None, :],
        np.einsum("an,an->a", u, u)[:, None],
        u @ v.T,
        np.einsum("bn,bn->b", v, v)[None, :],
    )
    b = (np.array(ones @ y).reshape(1, 1), (u @ y)[:, None], (v @ y)[None, :])
    held_values = rng.uniform(0, 0.5, 3)
    # the constant's lower bound below 0 (as E - mean loss is), upper bounds on some runs, bounds that vary
    # along the grid's columns as the exponents rescale them
    low = (np.array(-rng.uniform(0, 1)), np.zeros((1, cols)), np.zeros(()))
    high = (
        np.array(np.inf),
        np.full((1, cols), 0.8 if with_upper else np.inf),
        np.array(0.4 if with_upper else np.inf),
    )
    lo = tuple(np.array(h) if k else w for h, k, w in zip(held_values, held, low, strict=True))
    hi = tuple(np.array(h) if k else w for h, k, w in zip(held_values, held, high, strict=True))
    q, c, _ = _boxlsq.box_min(G, b, np.array(y @ y), lo, hi, held)
    full = np.empty((rows, cols, 3, 3))
    for (i, j), e in zip(((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)), G, strict=True):
        full[..., i, j] = full[..., j, i] = e
    rhs = np.stack(np.broadcast_arrays(*b), axis=-1)
    lo_full = np.stack(np.broadcast_arrays(*lo, np.zeros((rows, cols)))[:3], axis=-1)
    hi_full = np.stack(np.broadcast_arrays(*hi, np.zeros((rows, cols)))[:3], axis=-1)
    ref_q, ref_c, _ = box_lsq(full, rhs, np.full((rows, cols), y @ y), lo_full, hi_full, held)
    assert q.shape == (rows, cols)
    # the routes round differently; a basis with a small exponent is nearly the constant, which costs
    # digits (a wrongly broadcast entry would be off in the first digit)
    np.testing.assert_allclose(q, ref_q, rtol=1e-9, atol=1e-10 * (y @ y))
    np.testing.assert_allclose(np.stack(c, axis=-1), ref_c, rtol=1e-7, atol=1e-7)
