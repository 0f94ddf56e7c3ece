"""Exact bound-constrained least squares in up to three unknowns, vectorised over many problems.

Minimises q(c) = c'Gc - 2b'c + yy subject to lo <= c <= hi, for arrays of 3x3 Gram matrices. The
problem is a convex quadratic, so its minimiser is the feasible point with the lowest q among the
unconstrained minimisers of every face of the box (each coefficient interior, at its lower bound or at
its upper bound). With three coefficients that is at most 27 faces, solved in closed form, which is far
faster than calling an NNLS routine for each of the thousands of grid cells a fit screens.
A face whose Gram block is singular is skipped: its minimiser set meets a smaller face (the columns are
collinear, so one coefficient can be moved to a bound without changing q), which is enumerated too.
"""

from __future__ import annotations

import itertools

import numpy as np

#: A Gram block counts as singular when its determinant falls below this fraction of the product of its
#: diagonal (Hadamard's bound): the columns are collinear to about 12 digits.
SINGULAR = 1e-12


def _solve(G: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve G c = r for symmetric positive semi-definite blocks of size 0-3; (c, solvable)."""
    m = G.shape[-1]
    if m == 0:
        return r.copy(), np.ones(r.shape[:-1], bool)
    if m == 1:
        a = G[..., 0, 0]
        ok = a > 0
        return (r / np.where(ok, a, 1.0)[..., None]), ok
    if m == 2:
        a, b, d = G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]
        det = a * d - b * b
        ok = det > SINGULAR * a * d
        det = np.where(ok, det, 1.0)
        c0 = (d * r[..., 0] - b * r[..., 1]) / det
        c1 = (a * r[..., 1] - b * r[..., 0]) / det
        return np.stack([c0, c1], axis=-1), ok
    a, b, c = G[..., 0, 0], G[..., 0, 1], G[..., 0, 2]
    d, e, f = G[..., 1, 1], G[..., 1, 2], G[..., 2, 2]
    C00, C01, C02 = d * f - e * e, c * e - b * f, b * e - c * d
    C11, C12, C22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * C00 + b * C01 + c * C02
    ok = det > SINGULAR * a * d * f
    det = np.where(ok, det, 1.0)
    r0, r1, r2 = r[..., 0], r[..., 1], r[..., 2]
    x = np.stack(
        [C00 * r0 + C01 * r1 + C02 * r2, C01 * r0 + C11 * r1 + C12 * r2, C02 * r0 + C12 * r1 + C22 * r2],
        axis=-1,
    )
    return x / det[..., None], ok


def quadratic(G: np.ndarray, b: np.ndarray, yy: np.ndarray, c: np.ndarray) -> np.ndarray:
    """q(c) = c'Gc - 2b'c + yy for symmetric 3x3 G (written out: einsum is slow on tiny matrices)."""
    c0, c1, c2 = c[..., 0], c[..., 1], c[..., 2]
    quad = (
        G[..., 0, 0] * c0 * c0
        + G[..., 1, 1] * c1 * c1
        + G[..., 2, 2] * c2 * c2
        + 2.0 * (G[..., 0, 1] * c0 * c1 + G[..., 0, 2] * c0 * c2 + G[..., 1, 2] * c1 * c2)
    )
    return yy - 2.0 * (b[..., 0] * c0 + b[..., 1] * c1 + b[..., 2] * c2) + quad


def box_lsq(
    G: np.ndarray, b: np.ndarray, yy: np.ndarray, lo: np.ndarray, hi: np.ndarray, held: tuple[bool, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise q over the box [lo, hi] (``held`` coefficients stay at ``lo``).

    Parameters
    ----------
    G : (..., 3, 3) Gram matrices; b : (..., 3); yy : (...)
    lo, hi : (..., 3) bounds (may be infinite)
    held : which coefficients are fixed (their value is ``lo``)

    Returns
    -------
    q : (...) minimum (inf where no face is feasible), c : (..., 3) minimiser,
    interior : (..., 3) bool, the coefficients strictly inside their bounds.
    """
    shape = yy.shape
    n = int(np.prod(shape))
    G, b, yy = G.reshape(n, 3, 3), b.reshape(n, 3), yy.reshape(n)
    lo, hi = np.broadcast_to(lo, (*shape, 3)).reshape(n, 3), np.broadcast_to(hi, (*shape, 3)).reshape(n, 3)
    free = [j for j in range(3) if not held[j]]
    # A coefficient can sit on a bound only where that bound is finite.
    options = [
        (
            "i",
            *(("l",) if np.isfinite(lo[:, j]).any() else ()),
            *(("u",) if np.isfinite(hi[:, j]).any() else ()),
        )
        for j in free
    ]
    best = np.full(n, np.inf)
    best_c = np.where(np.isfinite(lo), lo, 0.0)
    best_in = np.zeros((n, 3), bool)
    # The all-interior face first: where its minimiser is feasible it is optimal (the problem is convex),
    # so the other faces are only tried for the rest.
    todo = np.arange(n)
    for k, face in enumerate(itertools.product(*options)):
        if k == 1:
            todo = np.flatnonzero(~np.isfinite(best))
            G, b, yy, lo, hi = G[todo], b[todo], yy[todo], lo[todo], hi[todo]
        if todo.size == 0:
            break
        inner = [j for j, s in zip(free, face, strict=True) if s == "i"]
        c = np.where(np.isfinite(lo), lo, 0.0)  # held coefficients and faces at the lower bound
        ok = np.ones(todo.size, bool)
        for j, s in zip(free, face, strict=True):
            if s == "l":
                ok &= np.isfinite(lo[:, j])
            elif s == "u":
                c[:, j] = np.where(np.isfinite(hi[:, j]), hi[:, j], 0.0)
                ok &= np.isfinite(hi[:, j])
        if inner:
            c[:, inner] = 0.0
            r = b[:, inner] - np.einsum("nij,nj->ni", G[:, inner, :], c)
            x, solved = _solve(G[:, inner][:, :, inner], r)
            c[:, inner] = x
            ok &= solved & np.all((x >= lo[:, inner]) & (x <= hi[:, inner]), axis=1)
        q = np.where(ok, quadratic(G, b, yy, c), np.inf)
        better = q < best[todo]
        idx = todo[better]
        best[idx] = q[better]
        best_c[idx] = c[better]
        best_in[idx] = np.isin(np.arange(3), inner)
    return best.reshape(shape), best_c.reshape(*shape, 3), best_in.reshape(*shape, 3)
