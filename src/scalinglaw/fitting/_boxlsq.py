"""Exact bound-constrained least squares in up to three unknowns, vectorised over many problems.

Minimises q(c) = c'Gc - 2b'c + yy subject to lo <= c <= hi, for arrays of 3x3 Gram matrices. The
problem is a convex quadratic, so its minimiser is the feasible point with the lowest q among the
unconstrained minimisers of every face of the box (each coefficient interior, at its lower bound or at
its upper bound). With three coefficients that is at most 27 faces, solved in closed form, which is far
faster than calling an NNLS routine for each of the thousands of grid cells a fit screens.
A face whose Gram block is singular is skipped: its minimiser set meets a smaller face (the columns are
collinear, so one coefficient can be moved to a bound without changing q), which is enumerated too.

:func:`box_lsq` takes stacked matrices (the polish's few hundred problems); :func:`box_min` the same
problems entry by entry, each entry broadcasting (a screening grid's, shaped by the exponents it depends on).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

#: Many symmetric 3x3 matrices (or vectors) given entry by entry: matrices by their distinct entries
#: (00, 01, 02, 11, 12, 22), vectors by their three; each entry an array, all broadcasting together.
Entries = tuple[np.ndarray, ...]

#: A Gram block counts as singular when its determinant falls below this fraction of the product of its
#: diagonal (Hadamard's bound): the columns are collinear to about 12 digits.
SINGULAR = 1e-12


def _solve_entries(M: list[list[np.ndarray]], r: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Solve M c = r for symmetric positive semi-definite blocks of size 0-3 given entry by entry (each
    entry an array; they broadcast together): (c as a list, solvable)."""
    m = len(r)
    if m == 0:
        return [], np.ones((), bool)
    if m == 1:
        a = M[0][0]
        ok = a > 0
        return [r[0] / np.where(ok, a, 1.0)], ok
    if m == 2:
        a, b, d = M[0][0], M[0][1], M[1][1]
        det = a * d - b * b
        ok = det > SINGULAR * a * d
        det = np.where(ok, det, 1.0)
        return [(d * r[0] - b * r[1]) / det, (a * r[1] - b * r[0]) / det], ok
    a, b, c = M[0][0], M[0][1], M[0][2]
    d, e, f = M[1][1], M[1][2], M[2][2]
    C00, C01, C02 = d * f - e * e, c * e - b * f, b * e - c * d
    C11, C12, C22 = a * f - c * c, b * c - a * e, a * d - b * b
    det = a * C00 + b * C01 + c * C02
    ok = det > SINGULAR * a * d * f
    det = np.where(ok, det, 1.0)
    r0, r1, r2 = r
    return [
        (C00 * r0 + C01 * r1 + C02 * r2) / det,
        (C01 * r0 + C11 * r1 + C12 * r2) / det,
        (C02 * r0 + C12 * r1 + C22 * r2) / det,
    ], ok


def _solve(G: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve G c = r for stacked symmetric blocks (..., m, m), m <= 3: (c, solvable)."""
    m = G.shape[-1]
    x, ok = _solve_entries(
        [[G[..., i, j] for j in range(m)] for i in range(m)], [r[..., i] for i in range(m)]
    )
    return (np.stack(x, axis=-1) if m else r.copy()), np.broadcast_to(ok, r.shape[:-1])


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


def _faces(lo: Entries, hi: Entries, held: tuple[bool, ...]) -> list[tuple[str, ...]]:
    """Every face of the box: per free coefficient interior "i", at its lower "l" or upper "u" bound.

    A coefficient can sit on a bound only where that bound is finite. The all-interior face comes first.
    """
    options = [
        (
            "i",
            *(("l",) if np.isfinite(lo[j]).any() else ()),
            *(("u",) if np.isfinite(hi[j]).any() else ()),
        )
        for j in range(3)
        if not held[j]
    ]
    return list(itertools.product(*options))


def _entry(G: Entries, i: int, j: int) -> np.ndarray:
    """Entry (i, j) of the symmetric matrices whose distinct entries G lists (00, 01, 02, 11, 12, 22)."""
    i, j = min(i, j), max(i, j)
    return G[3 * i + j - i * (i + 1) // 2]


def _on_face(
    G: Entries, b: Entries, yy: np.ndarray, lo: Entries, hi: Entries, held: tuple[bool, ...], face: tuple
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Minimiser of q on one face for every problem: (q, c, feasible); infeasible problems have q = inf.

    With c_B the coefficients on bounds and c_F the others, solving G_FF c_F = r_F = b_F - G_FB c_B
    leaves q = yy - c_F'r_F - 2 b_B'c_B + c_B'G_BB c_B.
    """
    side = dict(zip([j for j in range(3) if not held[j]], face, strict=True))
    inner = [j for j in range(3) if side.get(j) == "i"]
    c: list[np.ndarray] = [np.zeros(())] * 3
    ok = np.ones((), bool)
    for j in range(3):
        if j not in inner:  # at a bound (held coefficients: their value, in lo)
            value = hi[j] if side.get(j) == "u" else lo[j]
            finite = np.isfinite(value)
            ok = ok & finite
            c[j] = np.where(finite, value, 0.0)
    bound = [j for j in range(3) if j not in inner and np.any(c[j])]  # (terms of zero bounds vanish)
    r = [b[i] - sum(_entry(G, i, j) * c[j] for j in bound) for i in inner]
    x, solved = _solve_entries([[_entry(G, i, k) for k in inner] for i in inner], r)
    ok = ok & solved
    for i, xi in zip(inner, x, strict=True):
        ok = ok & (xi >= lo[i]) & (xi <= hi[i])
        c[i] = xi
    q = yy - sum(xi * ri for xi, ri in zip(x, r, strict=True))
    for j in bound:
        q = q + c[j] * (sum(_entry(G, j, k) * c[k] for k in bound) - 2.0 * b[j])
    return np.where(ok, q, np.inf), c, ok


def box_min(
    G: Entries, b: Entries, yy: np.ndarray, lo: Entries, hi: Entries, held: tuple[bool, ...]
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """:func:`box_lsq` for problems given entry by entry, each entry an array of any shape that broadcasts
    to the batch's (a screening grid's entries mostly vary along one exponent, so are never expanded).

    The all-interior face is solved for every problem first: where its minimiser is feasible it is the
    box's (the problem is convex). The other faces, one at a time, only for the rest.

    Returns q, c (three arrays) and the face index of every problem (-1: no feasible face). q is read off
    each face's solve, so its rounding is first order in the solve's (about 1e-11 of yy): enough to
    screen with; :func:`box_lsq` re-evaluates it.
    """
    shape = np.broadcast_shapes(*(np.shape(e) for e in (*G, *b, yy, *lo, *hi)))
    faces = _faces(lo, hi, held)
    q, c, ok = _on_face(G, b, yy, lo, hi, held, faces[0])
    q = np.array(np.broadcast_to(q, shape))
    c = [np.array(np.broadcast_to(ci, shape)) for ci in c]
    face = np.where(np.broadcast_to(ok, shape), 0, -1)
    rest = face < 0
    if len(faces) > 1 and rest.any():
        part = [np.broadcast_to(e, shape)[rest] for e in (*G, *b, yy, *lo, *hi)]
        pG, pb, pyy, plo, phi = part[:6], part[6:9], part[9], part[10:13], part[13:]
        best, best_c, best_face = np.full(len(pyy), np.inf), [ci[rest] for ci in c], face[rest]
        for k in range(1, len(faces)):
            qk, ck, _ = _on_face(pG, pb, pyy, plo, phi, held, faces[k])
            better = qk < best
            best = np.where(better, qk, best)
            best_c = [np.where(better, new, old) for new, old in zip(ck, best_c, strict=True)]
            best_face = np.where(better, k, best_face)
        q[rest], face[rest] = best, best_face
        for ci, part_c in zip(c, best_c, strict=True):
            ci[rest] = part_c
    return q, c, face


#: Batches up to this many (problem, face) pairs solve every face at once; larger ones go face by face.
ALL_FACES_AT_ONCE = 50_000


@functools.lru_cache(maxsize=64)
def _face_table(
    free: tuple[int, ...], faces: tuple[tuple[str, ...], ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per face, where each coefficient is (F, 3: 0 interior, 1 lower bound or held, 2 upper bound); the
    identity rows (F, 3, 3) that pin the coefficients on bounds in the face's 3x3 system; and which
    coefficients are interior (F + 1, 3: the last row, none, for "no feasible face", index -1)."""
    at = np.zeros((len(faces), 3), int)
    for f, face in enumerate(faces):
        for j, side in zip(free, face, strict=True):
            at[f, j] = {"i": 0, "l": 1, "u": 2}[side]
    at[:, [j for j in range(3) if j not in free]] = 1
    pad = ((at > 0)[:, :, None] & np.eye(3, dtype=bool)).astype(float)
    interior = np.vstack([at == 0, np.zeros((1, 3), bool)])
    for table in (at, pad, interior):
        table.flags.writeable = False  # shared by every call (cached)
    return at, pad, interior


def _every_face(
    G: np.ndarray, b: np.ndarray, yy: np.ndarray, lo: np.ndarray, hi: np.ndarray, free: list[int], faces: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best face per problem, all faces in one vectorised pass: (q, c, face index).

    Each face is a 3x3 system: a free coefficient's row of G, or for a coefficient on a bound (or held)
    the identity row fixing it; singular free blocks are treated as infeasible, as in :func:`_solve`.
    """
    n = len(yy)
    at, pad, _ = _face_table(tuple(free), tuple(faces))
    fixed = at > 0  # (F, 3)
    value = np.where(at[None] == 2, hi[:, None, :], lo[:, None, :])  # (n, F, 3)
    ok = np.all(np.isfinite(value) | ~fixed[None], axis=2)
    value = np.where(fixed[None] & np.isfinite(value), value, 0.0)
    A = np.where((fixed[:, :, None] | fixed[:, None, :])[None], pad[None], G[:, None])
    r = np.where(fixed[None], value, b[:, None, :] - np.einsum("nij,nfj->nfi", G, value))
    c, solved = _solve(A, r)
    c = np.where(fixed[None], value, c)
    ok &= solved & np.all(fixed[None] | ((c >= lo[:, None]) & (c <= hi[:, None])), axis=2)
    q = np.where(ok, quadratic(G[:, None], b[:, None], yy[:, None], c), np.inf)
    face = np.argmin(q, axis=1)  # ties: the first face
    rows = np.arange(n)
    return q[rows, face], c[rows, face], np.where(np.isfinite(q[rows, face]), face, -1)


def box_lsq(
    G: np.ndarray,
    b: np.ndarray,
    yy: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    held: tuple[bool, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise q over the box [lo, hi] (``held`` coefficients stay at ``lo``).

    Small batches solve every face of every problem at once (a constant number of numpy calls). Large
    ones (a polish of thousands of fits) go through :func:`box_min`: the all-interior face first, the
    other faces only where its minimiser is infeasible.

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
    faces = _faces(lo.T, hi.T, held)
    if n * len(faces) <= ALL_FACES_AT_ONCE:
        best, best_c, best_face = _every_face(G, b, yy, lo, hi, free, faces)
    else:
        entries = tuple(G[:, i, j] for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)))
        best, c, best_face = box_min(entries, tuple(b.T), yy, tuple(lo.T), tuple(hi.T), held)
        best_c = np.stack(c, axis=-1)
        # q again, by the quadratic: stationary at the minimiser, so the solve's rounding enters it at
        # second order, not first as in box_min's (about 1e-11 of yy; the polish compares objectives finer)
        best = np.where(np.isfinite(best), quadratic(G, b, yy, best_c), best)
    best_c = np.where((best_face >= 0)[:, None], best_c, np.where(np.isfinite(lo), lo, 0.0))
    interior = _face_table(tuple(free), tuple(faces))[2][best_face]
    return best.reshape(shape), best_c.reshape(*shape, 3), interior.reshape(*shape, 3)
