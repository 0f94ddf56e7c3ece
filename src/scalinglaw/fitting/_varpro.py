"""Variable projection for separable laws, L = E + A / X1^alpha + B / X2^beta, batched over fits.

Why this solver
---------------
For fixed exponents (alpha, beta) the law is linear in (E, A, B), so the least-squares objective can be
minimised over them exactly (a bound-constrained 3x3 least squares, :mod:`._boxlsq`). What is left is a
search over at most two exponents, a smooth, well-conditioned surface (the five-parameter problem has
condition numbers near 1e11; the profile over exponents near 10). So:

1. **Screen**: evaluate the profile on a grid of exponents (24 per free exponent, denser at small values),
   for every fit at once. The x1 term is evaluated once per distinct x1 (model size) and the x2 term once
   per point and grid value; everything else is sums per segment, so a grid costs a few passes over the data.
2. **Polish**: from the best local minima of the grid, take trust-region Newton steps on the profile,
   solving the inner problem exactly at every step, for all fits and candidates together. The profile's
   gradient and Hessian are exact (Golub and Pereyra 1973: the inner solution's derivatives follow from
   the normal equations), so it converges quadratically to machine precision, in a few steps; along an
   exponent where the profile curves downwards the Gauss-Newton Hessian takes over.

A dense multi-start reference explores the same five-dimensional surface from 4^5 points; the grid over
the two exponents covers it more densely and exactly in the linear parameters, and the polish reaches
the bottom of each basin it starts in. The result is deterministic (no randomness; the same arithmetic
for the same input). Bounds on E, A, B are honoured exactly by the inner solve; bounds on the exponents
by projection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalinglaw.fitting import _newton
from scalinglaw.fitting._boxlsq import box_lsq, box_min
from scalinglaw.fitting._flat import Flat, headed_bounds, lowest_of_each
from scalinglaw.fitting.objectives import OBJECTIVES
from scalinglaw.laws import Law

#: Grid points per free exponent when screening ...
GRID_SIZE = 24
#: ... and when its coefficient, or the constant E, is held: the exponent then moves the loss's level,
#: not just its shape (A N^-alpha shifts by about A dalpha ln N, and nothing else can absorb it), so its
#: valley is far narrower.
HELD_GRID_SIZE = 192
#: Screening works on at most this many grid cells at a time (fits are taken in chunks), which bounds
#: its memory (about 150 bytes a cell) however many fits a batch holds.
MAX_GRID_CELLS = 1_000_000
#: Largest exponent range the grid spans above its lower bound (the polish can go further if allowed).
GRID_SPAN = 5.0
#: Grid local minima polished per fit, and how far (relative) above the best grid value they may be.
MAX_CANDIDATES = 3
CANDIDATE_SPREAD = 0.25
#: Polish stops when a step changes no exponent by more than this (absolute), after MAX_ITER steps,
STEP_TOL = 1e-11
MAX_ITER = 500
#: ... or when an accepted step lowers the objective by less than this (relative): the objective is then
#: settled far below the 1e-9 agreement the engine is tested to (the exponents may still creep).
GAIN_TOL = 1e-12
#: Rounding noise of the profile objective as the normal equations compute it: relative to the objective,
#: plus a part relative to the data's centred sum of squares (which dominates as an exact fit nears 0).
NOISE = 1e-11
ROUNDING = 1e-14
#: Fits whose profile rounding may exceed this fraction of their objective (the agreement the engine is
#: tested to) are finished on the residuals themselves (:func:`solve`): none of the 3,618 grid fits (their
#: largest is 1.8e-10). On a random 14-point family with E held (losses 630-1,040, the law explaining all
#: but a millionth of their variance) it is 4e-9; the profile's value was 8e-9 off the objective's, and the
#: fit ended 5.4e-9 above the 4^5 reference.
RESIDUAL_FORM = 1e-9
#: Step lengths tried at once, as multiples of the (trust-limited) step, while the points of the jobs
#: still running times the trials stay within TRIAL_POINTS. A step then costs about what one trial
#: does (the work is mostly per call, not per point), and the best length is taken where the
#: quadratic model misjudges it: around the bends of curved valleys, and where an exponent slides
#: towards a bound along an exponentially flattening profile. The first entry alone is used otherwise.
TRIAL_SCALES = np.array([1.0, 0.25, 1 / 16, 4.0, 16.0])
TRIAL_POINTS = 50_000
#: The polish copies the points of the jobs still running anew only once fewer than this fraction of
#: those copied last still run (finished jobs ride along, frozen, in between): a copy costs several
#: steps' worth of work on a few finished jobs.
REGATHER = 0.6
#: After a failed step across a kink of the profile, the radius goes this far (relative) past the
#: first-order crossing, and to no less than EDGE_MIN of the step.
EDGE_MARGIN = 1e-3
EDGE_MIN = 1e-3
#: At each of these step counts but the first, a job still running whose exponent has moved PROBE_MOVE or
#: more towards a finite bound since the previous one probes that bound: the exponent is pinned on it and
#: the other is polished, and the job goes there if that is lower. A valley that ends on a bound (two
#: model sizes, E on its bound, alpha sliding up to its own) flattens exponentially, and Newton steps
#: crawl along it at a constant length: 50-105 steps on the GPT-2 OSCAR and OPT grids. (No fit of the
#: GPT-3 grid takes 16.)
PROBE_CHECKS = (8, 16, 32, 64, 128, 256)
PROBE_MOVE = 1e-3
PROBE_GATE = 1e-3
#: The objective :func:`solve` hands the residual-form polish (:data:`RESIDUAL_FORM`).
LEAST_SQUARES = OBJECTIVES["lsq"]


@dataclass(frozen=True)
class Spec:
    """The law's structure as the solver sees it; index 0, 1, 2 = constant, x1 term, x2 term."""

    held: tuple[bool, bool, bool]  #: coefficient fixed
    c_value: np.ndarray  #: (3,) public value of held coefficients (start value otherwise)
    c_lo: np.ndarray  #: (3,) public bounds
    c_hi: np.ndarray
    e_free: tuple[bool, bool]  #: exponent searched
    e_value: np.ndarray  #: (2,) value of held exponents (start otherwise)
    e_lo: np.ndarray  #: (2,)
    e_hi: np.ndarray
    names: tuple[str, str, str, str, str]  #: E, A, alpha, B, beta in the law's naming

    @classmethod
    def from_law(cls, law: Law) -> Spec:
        s = law.separable
        assert s is not None
        cs = [law.param(n) for n in (s.constant, s.coef1, s.coef2)]
        es = [law.param(n) for n in (s.exponent1, s.exponent2)]
        # An exponent whose coefficient is held at zero has no effect: do not search it.
        e_free = tuple(
            not e.fixed and not (c.fixed and c.start == 0.0) and e.lower < e.upper
            for e, c in zip(es, cs[1:], strict=True)
        )
        return cls(
            held=tuple(c.fixed for c in cs),
            c_value=np.array([c.start for c in cs]),
            c_lo=np.array([c.lower for c in cs]),
            c_hi=np.array([c.upper for c in cs]),
            e_free=e_free,
            e_value=np.array([e.start for e in es]),
            e_lo=np.array([e.lower for e in es]),
            e_hi=np.array([e.upper for e in es]),
            names=(s.constant, s.coef1, s.exponent1, s.coef2, s.exponent2),
        )

    def grid(self, j: int) -> np.ndarray:
        """Screening values of exponent ``j`` (just its value when held)."""
        if not self.e_free[j]:
            return self.e_value[j : j + 1]
        lo = self.e_lo[j]
        hi = min(self.e_hi[j], max(lo, 0.0) + GRID_SPAN)
        size = HELD_GRID_SIZE if self.held[j + 1] or self.held[0] else GRID_SIZE
        if lo >= 0:  # denser where exponents usually are (0.05-1.5): uniform in log(1 + exponent)
            return np.expm1(np.linspace(np.log1p(lo), np.log1p(hi), size))
        return np.linspace(lo, hi, size)

    def scales(self, ref1: np.ndarray, ref2: np.ndarray, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """(..., 3) factors turning public coefficients into internal ones (broadcast shapes)."""
        a, b = np.broadcast_arrays(np.exp(-alpha * ref1), np.exp(-beta * ref2))
        return np.stack([np.ones_like(a), a, b], axis=-1)

    @property
    def public_box(self) -> tuple[np.ndarray, np.ndarray]:
        """(3,) public (lo, hi) of the coefficients, with held ones at their value."""
        held = np.array(self.held)
        return np.where(held, self.c_value, self.c_lo), np.where(held, self.c_value, self.c_hi)

    def internal_box(self, scale: np.ndarray, ymean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Internal (lo, hi) for the inner solve; held coefficients get lo = hi = their value.

        Internal coefficients are (E - mean loss, A e^(-alpha ref1), B e^(-beta ref2)).
        """
        shift = np.zeros(scale.shape)
        shift[..., 0] = ymean
        lo, hi = self.public_box
        return lo * scale - shift, hi * scale - shift

    def internal_bounds(self, scale: list[np.ndarray], ymean: np.ndarray) -> tuple[list, list]:
        """:meth:`internal_box` coefficient by coefficient, for factors ``scale`` of any shapes."""
        lo, hi = self.public_box
        shift = [ymean, 0.0, 0.0]
        return (
            [lo[j] * scale[j] - shift[j] for j in range(3)],
            [hi[j] * scale[j] - shift[j] for j in range(3)],
        )


# -- sums -------------------------------------------------------------------------------------------


def _point_sums(flat: Flat, v: np.ndarray, derivatives: bool) -> dict[str, np.ndarray]:
    """Per-segment sums of the x2 basis ``v`` (shape (..., T)) that the normal equations need.

    The products are written into one array and summed per segment in one pass.
    """
    names = ("V1", "V2", "Vy", "L1", "L2", "Ly", "Q1", "Qy", "LL") if derivatives else ("V1", "V2", "Vy")
    X = np.empty((len(names), *v.shape))
    wv = np.multiply(flat.w, v, out=X[0])
    np.multiply(wv, v, out=X[1])
    np.multiply(wv, flat.y, out=X[2])
    if derivatives:
        lwv = np.multiply(wv, flat.l2, out=X[3])
        np.multiply(lwv, v, out=X[4])
        np.multiply(lwv, flat.y, out=X[5])
        llwv = np.multiply(lwv, flat.l2, out=X[6])
        np.multiply(llwv, flat.y, out=X[7])
        np.multiply(llwv, v, out=X[8])
    return dict(zip(names, flat.seg_sum(X), strict=True))


def _grid_sums(flat: Flat, gb: np.ndarray) -> dict[str, np.ndarray]:
    """Per-segment sums for every grid value of beta: (Gb, S) each.

    When the fits share a table, the basis is evaluated once per distinct row (centred on the table)
    and one sparse product gives every fit's sums, rescaled to the fit's own centring:
    (x2 / e^ref2)^-beta = (x2 / e^R)^-beta e^(beta (ref2 - R)).
    """
    if flat.shared is None:
        return _point_sums(flat, np.exp(-gb[:, None] * flat.l2[None, :]), derivatives=False)
    sh = flat.shared
    v = np.exp(-gb[:, None] * sh.l2[None, :])  # (Gb, U)
    G = len(gb)
    table = (sh.weights @ np.concatenate([v, v * v], axis=0).T).T  # (2 Gb, S)
    vy = (sh.losses @ v.T).T
    seg = flat.seg_fit
    scale = np.exp(gb[:, None] * (flat.ref2[seg] - sh.ref)[None, :])
    v1, v2 = table[:G], table[G:]
    return {"V1": v1 * scale, "V2": v2 * scale * scale, "Vy": (vy - flat.ymean[seg] * v1) * scale}


def _constant_sums(flat: Flat) -> dict[str, np.ndarray]:
    w, y = flat.w, flat.y
    P0, Py = flat.seg_sum(np.stack([w, w * y]))
    return {"P0": P0, "Py": Py, "Pyy": flat.seg_yy}


# -- screening --------------------------------------------------------------------------------------


def _grid_profile(
    flat: Flat, spec: Spec, const: dict[str, np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
    """Profile objective on the exponent grid: (K, Ga, Gb) values, the inner solution's three internal
    coefficients there (each (K, Ga, Gb)), and the grids."""
    ga, gb = spec.grid(0), spec.grid(1)
    sums = _grid_sums(flat, gb)  # (Gb, S)
    u = np.exp(-ga[:, None] * flat.seg_l1[None, :])  # (Ga, S)
    fit = flat.fit_sum_of_segments
    P0, Py = const["P0"], const["Py"]
    # The Gram matrices and right-hand sides entry by entry, shaped (K, Ga, Gb) only where an entry
    # depends on both exponents: (K, 1, 1) for the constant's, (K, Ga, 1) for alpha's, (K, 1, Gb) for beta's.
    by_fit = fit(np.stack([P0, Py, const["Pyy"]]))[:, :, None, None]
    by_alpha = fit(np.stack([u * P0, u * u * P0, u * Py])).transpose(0, 2, 1)[:, :, :, None]
    by_beta = fit(np.stack([sums["V1"], sums["V2"], sums["Vy"]])).transpose(0, 2, 1)[:, :, None, :]
    index, mask = flat.segment_matrix()  # pair term: per fit, sum over its segments of u[a] V1[g]
    U = np.where(mask[:, None, :], u[:, index].transpose(1, 0, 2), 0.0)  # (K, Ga, Smax)
    V1 = np.where(mask[:, :, None], sums["V1"][:, index].transpose(1, 2, 0), 0.0)  # (K, Smax, Gb)
    G = (by_fit[0], by_alpha[0], by_beta[0], by_alpha[1], U @ V1, by_beta[1])
    b = (by_fit[1], by_alpha[2], by_beta[2])
    scale = [
        np.ones(()),
        np.exp(-ga[None, :, None] * flat.ref1[:, None, None]),
        np.exp(-gb[None, None, :] * flat.ref2[:, None, None]),
    ]
    lo, hi = spec.internal_bounds(scale, flat.ymean[:, None, None])
    q, c, _ = box_min(G, b, by_fit[2], lo, hi, spec.held)
    return q, c, ga, gb


def _parabola_floor(q: np.ndarray, axis: int) -> np.ndarray:
    """Lowest value of the parabola through each cell and its two neighbours along ``axis``.

    Where the vertex lies within half a cell of the centre (the stretch of the axis this cell is the
    nearest grid point to), this estimates how deep the surface dips between grid lines; elsewhere it is
    the cell's own value. A narrow valley the grid straddles shows up here
    even when every grid point on it is high (parameters held fixed make such valleys).
    """
    qm = np.moveaxis(q, axis, -1)
    out = qm.copy()
    lo, mid, hi = qm[..., :-2], qm[..., 1:-1], qm[..., 2:]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        curv = lo - 2 * mid + hi
        t = 0.5 * (lo - hi) / curv
        dip = mid - (hi - lo) ** 2 / (8 * curv)
    usable = np.isfinite(dip) & (curv > 0) & (np.abs(t) <= 0.5)
    out[..., 1:-1] = np.where(usable, np.minimum(dip, mid), mid)
    return np.moveaxis(out, -1, axis)


def _minima(score: np.ndarray) -> np.ndarray:
    """Cells no worse than their 8 neighbours (boundaries count as +inf)."""
    _, Ga, Gb = score.shape
    padded = np.pad(score, ((0, 0), (1, 1), (1, 1)), constant_values=np.inf)
    is_min = np.isfinite(score)
    for da in (-1, 0, 1):
        for db in (-1, 0, 1):
            if da or db:
                is_min &= score <= padded[:, 1 + da : 1 + da + Ga, 1 + db : 1 + db + Gb]
    return is_min


def _local_minima(q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid cells to polish from, as (fit, alpha index, beta index), fit by fit and best first.

    Always the best local minimum of the grid values; then the local minima of a *score*, the lower of a
    cell's value and the floors of the parabolas through it along each exponent (clipped at 0, the least
    an objective can be), which flags narrow valleys that fall between grid lines. Candidates must score
    within :data:`CANDIDATE_SPREAD` (relative) of the best grid value; at most :data:`MAX_CANDIDATES`.
    Ties go to the lower (alpha, beta) index.
    """
    K, _, Gb = q.shape
    q = np.where(np.isfinite(q), q, np.inf)
    score = np.maximum(np.minimum(q, np.minimum(_parabola_floor(q, 1), _parabola_floor(q, 2))), 0.0)
    score = np.where(np.isfinite(q), score, np.inf)
    raw = np.where(_minima(q), q, np.inf).reshape(K, -1)
    rows = np.arange(K)
    best_cell = np.argmin(raw, axis=1)  # the first of equals in (alpha, beta) order
    best = raw[rows, best_cell]
    limit = best + CANDIDATE_SPREAD * np.abs(best)
    others = np.where(_minima(score) & (score <= limit[:, None, None]), score, np.inf).reshape(K, -1)
    others[rows, best_cell] = np.inf
    order = np.argsort(others, axis=1, kind="stable")[:, : MAX_CANDIDATES - 1]
    cells = np.column_stack([best_cell, order])
    # (a fit with every cell infeasible has no finite best, and so no finite score either: no cells)
    keep = np.column_stack([np.isfinite(best), np.isfinite(np.take_along_axis(others, order, axis=1))])
    a, b = np.divmod(cells[keep], Gb)
    return np.repeat(rows, keep.sum(axis=1)), a, b


# -- polish -----------------------------------------------------------------------------------------


@dataclass
class _State:
    """Per job (J) and per segment (S) quantities at the current exponents."""

    theta: np.ndarray  #: (J, 2) exponents
    f: np.ndarray  #: (J,) profile objective
    c: np.ndarray  #: (J, 3) internal coefficients
    interior: np.ndarray  #: (J, 3) coefficients strictly inside their bounds
    G: np.ndarray  #: (J, 3, 3) Gram matrix
    seg: dict[str, np.ndarray]  #: per-segment sums and the x1 basis "u", each (S,)

    def select(self, flat: Flat, jobs: np.ndarray) -> _State:
        return _State(
            self.theta[jobs],
            self.f[jobs],
            self.c[jobs],
            self.interior[jobs],
            self.G[jobs],
            _of_fits(self.seg, flat, jobs),
        )

    def merge(self, flat: Flat, new: _State, rows: np.ndarray) -> _State:
        """``new``'s values (same jobs) where ``rows``, these elsewhere."""
        segs = rows[flat.seg_fit]
        return _State(
            np.where(rows[:, None], new.theta, self.theta),
            np.where(rows, new.f, self.f),
            np.where(rows[:, None], new.c, self.c),
            np.where(rows[:, None], new.interior, self.interior),
            np.where(rows[:, None, None], new.G, self.G),
            {k: np.where(segs, new.seg[k], v) for k, v in self.seg.items()},
        )


def _evaluate(flat: Flat, spec: Spec, const: dict[str, np.ndarray], theta: np.ndarray) -> _State:
    """Solve the inner problem at per-job exponents ``theta`` (J, 2); keep what the Jacobian needs."""
    alpha, beta = theta[:, 0], theta[:, 1]
    v = flat.per_point(-beta)
    np.exp(np.multiply(v, flat.l2, out=v), out=v)
    s = _point_sums(flat, v, derivatives=True)
    u = np.exp(-alpha[flat.seg_fit] * flat.seg_l1)
    P0, Py, V1 = const["P0"], const["Py"], s["V1"]
    # Every per-fit sum in one pass: G's distinct entries (00, 01, 11, 02, 22, 12), b, yy.
    g00, g01, g11, g02, g22, g12, b0, b1, b2, yy = flat.fit_sum_of_segments(
        np.stack([P0, u * P0, u * u * P0, V1, s["V2"], u * V1, Py, u * Py, s["Vy"], const["Pyy"]])
    )
    G = np.stack([g00, g01, g02, g01, g11, g12, g02, g12, g22], axis=-1).reshape(-1, 3, 3)
    b = np.stack([b0, b1, b2], axis=-1)
    lo, hi = spec.internal_box(spec.scales(flat.ref1, flat.ref2, alpha, beta), flat.ymean)
    f, c, interior = box_lsq(G, b, yy, lo, hi, spec.held)
    return _State(theta, f, c, interior, G, {"u": u, **s})


def _derivatives(
    flat: Flat, spec: Spec, const: dict[str, np.ndarray], st: _State
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(g, H, dc, exact) of the profile at ``st``: its gradient is -2 g; H is half its exact Hessian (Newton
    steps converge quadratically even where residuals are large next to the signal, as with few points
    or flat valleys), except that an exponent along which the profile does not curve upwards takes its
    row and column from half the Gauss-Newton Hessian 2 J'WJ (positive semi-definite, so the step still
    goes downhill; the other exponent keeps its exact curvature, which matters where one exponent is
    not identified and the profile is flat along it); dc (J, 3, 2) the derivatives of the inner
    solution's coefficients on its face; exact (J,) where H is the exact half Hessian."""
    p, c = st.seg, st.c
    u = p["u"]
    fit = flat.fit_sum_of_segments
    seg = flat.seg_fit
    c0, c1, c2 = c[:, 0], c[:, 1], c[:, 2]
    # Derivative factors: d(c1 u)/d alpha = -c1 e1 u with e1 = l1 (+ ref1 when A is held: its internal
    # value moves with alpha); likewise for beta.
    t1 = flat.ref1 if spec.held[1] else np.zeros(flat.n_fits)
    t2 = flat.ref2 if spec.held[2] else np.zeros(flat.n_fits)
    e1 = flat.seg_l1 + t1[seg]
    t2s = t2[seg]
    E1 = p["L1"] + t2s * p["V1"]
    E2 = p["L2"] + t2s * p["V2"]
    Ey = p["Ly"] + t2s * p["Vy"]
    EE = p["LL"] + 2 * t2s * p["L2"] + t2s**2 * p["V2"]
    P0, Py = const["P0"], const["Py"]
    c0s, c1s, c2s = c0[seg], c1[seg], c2[seg]
    residual = Py - c0s * P0 - c1s * u * P0 - c2s * p["V1"]  # per segment, sum w r
    E1e = p["Q1"] + 2 * t2s * p["L1"] + t2s**2 * p["V1"]  # sum w e2^2 v (Q1 with the shift, as E1 is L1)
    Eye = p["Qy"] + 2 * t2s * p["Ly"] + t2s**2 * p["Vy"]
    # Every per-fit sum in one pass: for X = Phi' W M, M'WM, the gradient, and the residuals' curvature.
    eu, eeu = e1 * u, e1**2 * u
    x00, x10, x20, x01, x11, x21, m00, m01, m11, g0, g1, r0, r1 = fit(
        np.stack(
            [
                eu * P0,
                eu * u * P0,
                eu * p["V1"],
                E1,
                u * E1,
                E2,
                eeu * u * P0,
                eu * E1,
                EE,
                eu * residual,
                Ey - c0s * E1 - c1s * u * E1 - c2s * E2,
                eeu * residual,
                Eye - c0s * E1e - c1s * u * E1e - c2s * EE,
            ]
        )
    )
    X = np.stack([-c1 * x00, -c2 * x01, -c1 * x10, -c2 * x11, -c1 * x20, -c2 * x21], axis=-1)
    X = X.reshape(-1, 3, 2)  # Phi' W M
    mm01 = c1 * c2 * m01
    MM = np.stack([c1**2 * m00, mm01, mm01, c2**2 * m11], axis=-1).reshape(-1, 2, 2)
    g = np.stack([-c1 * g0, -c2 * g1], axis=-1)
    # Golub-Pereyra Jacobian of the projected residual: J = -P M - Phi_F G_FF^-1 D', where D holds
    # (d phi_j / d theta_k)' W r. Then J'WJ = M'WM - X_F' G_FF^-1 X_F + D G_FF^-1 D'. Kaufman's
    # approximation drops the last term; it matters when the residuals are large next to the signal
    # (few points, flat valleys), where leaving it out makes the steps overshoot and zig-zag.
    F = st.interior
    Gp = np.where(F[:, :, None] & F[:, None, :], st.G, 0.0) + np.where(~F, 1.0, 0.0)[:, :, None] * np.eye(3)
    Xp = np.where(F[:, :, None], X, 0.0)
    D = np.zeros((flat.n_fits, 3, 2))  # only phi_A depends on alpha and phi_B on beta: D = g / c there
    with np.errstate(divide="ignore", invalid="ignore"):
        D[:, 1, 0] = np.where(F[:, 1] & (c1 != 0), g[:, 0] / c1, 0.0)
        D[:, 2, 1] = np.where(F[:, 2] & (c2 != 0), g[:, 1] / c2, 0.0)
    solved = np.linalg.solve(Gp, np.concatenate([Xp, D], axis=2))
    JJ = MM - np.einsum("nki,nkj->nij", Xp, solved[:, :, :2]) + np.einsum("nki,nkj->nij", D, solved[:, :, 2:])
    # The exact half Hessian is MM - R - C' G_FF^-1 C, with C = X - D the inner objective's mixed
    # derivatives and R the residuals' curvature along each exponent (sum w r c e^2 phi).
    H = MM - np.einsum("nki,nkj->nij", Xp - D, solved[:, :, :2] - solved[:, :, 2:])
    H[:, 0, 0] -= c1 * r0
    H[:, 1, 1] -= c2 * r1
    curved = np.diagonal(H, axis1=1, axis2=2) > 0
    # The inner solution moves with the exponents as dc/dtheta = G_FF^-1 (D - X_F) on its face.
    dc = np.where(F[:, :, None], solved[:, :, 2:] - solved[:, :, :2], 0.0)
    exact = curved.all(axis=1)
    return g, np.where(curved[:, :, None] & curved[:, None, :], H, JJ), dc, exact


def _to_face_edge(flat: Flat, spec: Spec, st: _State, dc: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """The fraction of the step ``delta`` (J, 2) at which, to first order, a coefficient of the inner
    solution meets its bound (inf where none does); ``dc`` (J, 3, 2): the coefficients' derivatives."""
    lo, hi = spec.internal_box(spec.scales(flat.ref1, flat.ref2, st.theta[:, 0], st.theta[:, 1]), flat.ymean)
    rate = np.einsum("jkm,jm->jk", dc, delta)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(rate < 0, (lo - st.c) / rate, np.where(rate > 0, (hi - st.c) / rate, np.inf))
    return np.where(st.interior & np.isfinite(t) & (t > 0), t, np.inf).min(axis=1)


def _step(spec: Spec, st: _State, g: np.ndarray, H: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Solve H delta = g on the exponents that can move (H: the profile's Hessian / 2, or J'WJ)."""
    # Exponents that are held or pinned, or whose coefficient is zero (the exponent then has no effect),
    # do not move.
    active = (
        np.array(spec.e_free)[None, :]
        & ~pinned
        & (np.abs(st.c[:, 1:]) > 0)
        & (np.diagonal(H, axis1=1, axis2=2) > 0)
    )
    delta = _solve_pd(H, g, active)
    # An exponent on a bound with the step pointing outwards stays on it (one projection pass).
    out = ((st.theta <= spec.e_lo) & (delta < 0)) | ((st.theta >= spec.e_hi) & (delta > 0))
    if out.any():
        delta = _solve_pd(H, g, active & ~out)
    return delta


def _solve_pd(H: np.ndarray, g: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Solve on the active exponents, shifting H's spectrum up if it is not positive-definite."""
    both = active[:, :, None] & active[:, None, :]
    A = np.where(both, H, 0.0)
    scale = np.abs(np.diagonal(A, axis1=1, axis2=2)).max(axis=1)
    low = np.linalg.eigvalsh(A + np.where(active, 0.0, 1.0)[:, :, None] * np.eye(2)).min(axis=1)
    shift = np.maximum(0.0, -low) + 1e-9 * scale + 1e-300
    A = A + (shift[:, None] * active + np.where(active, 0.0, 1.0))[:, :, None] * np.eye(2)
    return np.linalg.solve(A, np.where(active, g, 0.0)[:, :, None])[:, :, 0]


def _trial_copies(flat: Flat, const: dict[str, np.ndarray]) -> tuple[Flat, dict[str, np.ndarray]] | None:
    """The copies of the working set that :func:`_trial` evaluates the step lengths on (one per length,
    job by job: job j's are rows j * T to j * T + T - 1), or None where they would hold more than
    :data:`TRIAL_POINTS` points. Made once per working set, not once per step."""
    times = len(TRIAL_SCALES) + 1
    if len(flat.y) * times > TRIAL_POINTS:
        return None
    copies = np.repeat(np.arange(flat.n_fits), times)
    return flat.take(copies), _of_fits(const, flat, copies)


def _trial(
    sub: Flat,
    spec: Spec,
    const: dict[str, np.ndarray],
    copies: tuple[Flat, dict[str, np.ndarray]] | None,
    cur: _State,
    delta: np.ndarray,
) -> tuple[_State, float, np.ndarray, np.ndarray]:
    """Evaluate the step ``delta`` at the lengths :data:`TRIAL_SCALES`, on ``copies`` (from
    :func:`_trial_copies`); keep each job's best. Without copies, the full step only.

    With several lengths, one more is tried: the one that takes the step to the first bound it meets
    (an exponent sliding towards a bound gets there in one step, not dozens).

    Returns the best trial of each job, the shortest scale tried, the scale each job's best used (ties
    go to the earlier scale, so one trial behaves exactly as the plain step), and the full step's
    objective.
    """
    J = sub.n_fits
    if copies is None:
        theta = np.clip(cur.theta + delta, spec.e_lo, spec.e_hi)
        trial = _evaluate(sub, spec, const, theta)
        return trial, 1.0, np.ones(J), trial.f
    room = np.where(delta > 0, spec.e_hi - cur.theta, cur.theta - spec.e_lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_bound = np.where(delta != 0, room / np.abs(delta), np.inf).min(axis=1)
    to_bound = np.where(np.isfinite(to_bound) & (to_bound > 0), to_bound, 1.0)
    scales = np.column_stack([np.broadcast_to(TRIAL_SCALES, (J, len(TRIAL_SCALES))), to_bound])
    T = scales.shape[1]
    theta = np.clip(cur.theta[:, None, :] + scales[:, :, None] * delta[:, None, :], spec.e_lo, spec.e_hi)
    rep, rep_const = copies
    trial = _evaluate(rep, spec, rep_const, theta.reshape(-1, 2))
    pick = np.argmin(trial.f.reshape(J, T), axis=1)
    rows = np.arange(J)
    return trial.select(rep, rows * T + pick), float(TRIAL_SCALES.min()), scales[rows, pick], trial.f[::T]


def _polish(
    flat: Flat,
    spec: Spec,
    theta0: np.ndarray,
    radius0: np.ndarray,
    const: dict[str, np.ndarray],
    pinned: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Newton steps on the profile from ``theta0`` (J, 2) with a trust radius on the exponents; at
    :data:`PROBE_CHECKS`, jobs heading for an exponent's bound probe it (:func:`_probe_bounds`).

    Returns the final (exponents, objective, internal coefficients) of every job, and which converged
    (a step below :data:`STEP_TOL`, or a gain, made or predicted by the exact Newton model, below
    :data:`GAIN_TOL` of the objective plus its rounding). ``const``: the
    constant per-segment sums (:func:`_constant_sums`); ``pinned`` (J, 2): exponents that stay where
    they start (default none).
    """
    floor_all = _rounding(flat)
    st = _evaluate(flat, spec, const, theta0.copy())
    theta, f, c = st.theta.copy(), st.f.copy(), st.c.copy()
    converged = np.zeros(len(theta0), bool)
    # The working set: jobs gathered into ``sub`` (a copy of their points); ``live`` marks those still
    # running. Finished jobs ride along, frozen, until few enough run that a smaller copy pays.
    ids = np.flatnonzero(np.isfinite(st.f))
    sub, sub_const, cur = _gather(flat, const, st, ids)
    copies = _trial_copies(sub, sub_const)
    radius, floor = radius0[ids], floor_all[ids]
    start_radius = radius.copy()
    pinned = np.zeros((len(ids), 2), bool) if pinned is None else pinned[ids]
    check = cur.theta.copy()  # the exponents at the last probe check
    live = np.ones(len(ids), bool)
    for it in range(MAX_ITER):
        if not live.any():
            break
        if it in PROBE_CHECKS:
            if it > PROBE_CHECKS[0]:
                cur, jumped = _probe_bounds(sub, spec, sub_const, cur, check, live, pinned, start_radius)
                radius = np.where(jumped, np.maximum(radius, start_radius), radius)
            check = cur.theta.copy()
        g, H, dc, exact = _derivatives(sub, spec, sub_const, cur)
        delta = _step(spec, cur, g, H, pinned)
        size = np.abs(delta).max(axis=1)
        newton = exact & (size <= radius) & (H[:, 0, 0] * H[:, 1, 1] > H[:, 0, 1] ** 2)
        delta *= np.minimum(1.0, radius / np.maximum(size, 1e-300))[:, None]
        target = cur.theta + delta
        clipped = np.clip(target, spec.e_lo, spec.e_hi)
        full_step = clipped - cur.theta
        edge = _to_face_edge(sub, spec, cur, dc, full_step)
        # A step that, to first order, takes a coefficient of the inner solution across its bound ends
        # just past the crossing: the profile has a kink there that the quadratic model does not see (it
        # is the previous face's), and a full step across it mostly fails.
        cap = np.where(edge < 1.0, np.clip(edge * (1 + EDGE_MARGIN), EDGE_MIN, 1.0), 1.0)
        delta = delta * cap[:, None]
        full_step = np.clip(cur.theta + delta, spec.e_lo, spec.e_hi) - cur.theta
        edge = np.where(edge < 1.0, edge / cap, edge)
        # Where the step is the exact model's Newton step and stays on its face (no bound, no kink), the
        # decrease the model predicts for it (g'delta) is what is left to gain: below the gain tolerance,
        # the bottom is reached without evaluating the step.
        newton &= (clipped == target).all(axis=1) & (edge >= 1.0)
        left = np.einsum("jk,jk->j", g, delta)
        settled = live & newton & (left <= GAIN_TOL * (np.abs(cur.f) + floor / GAIN_TOL))
        converged[ids[settled]] = True
        live &= ~settled
        n_live = int(live.sum())
        if n_live == 0:
            break
        if n_live < REGATHER * len(ids):
            theta[ids], f[ids], c[ids] = cur.theta, cur.f, cur.c
            keep = np.flatnonzero(live)
            sub, sub_const, cur = _gather(sub, sub_const, cur, keep)
            copies = _trial_copies(sub, sub_const)
            ids, radius, floor, live = ids[keep], radius[keep], floor[keep], live[keep]
            start_radius, pinned, check = start_radius[keep], pinned[keep], check[keep]
            delta, full_step, edge = delta[keep], full_step[keep], edge[keep]
        trial, shortest_scale, chosen, full = _trial(sub, spec, sub_const, copies, cur, delta)
        moved = np.abs(trial.theta - cur.theta).max(axis=1)
        better = live & (trial.f < cur.f)
        with np.errstate(invalid="ignore"):  # inf - inf for infeasible trials
            change = cur.f - trial.f
            full_change = cur.f - full
        prev = cur
        cur = cur.merge(sub, trial, better)
        # Grow the radius past a step that worked at full length or more; shrink it to just past a
        # shorter one; on failure, to a quarter of the shortest step tried, or to a kink it crossed.
        shortest = np.abs(np.clip(prev.theta + shortest_scale * delta, spec.e_lo, spec.e_hi) - prev.theta)
        grown = np.where(chosen < 1.0, 2.0 * moved, np.maximum(radius, 2.0 * moved))
        # A failed step that, to first order, takes a coefficient of the inner solution across its bound
        # crossed a kink of the profile (the inner solution changes face there), which the quadratic model
        # does not see: the radius shrinks to just past the crossing (at most by half) instead, so the
        # next step lands on the kink rather than approaching it by quarters.
        shrunk = np.where(
            edge < 1.0,
            np.clip(edge * (1 + EDGE_MARGIN), EDGE_MIN, 0.5) * np.abs(full_step).max(axis=1),
            0.25 * shortest.max(axis=1),
        )
        # An accepted step onto another face of the inner solution starts a new smooth piece of the
        # profile: the radius the kink taught no longer applies there.
        new_face = better & (trial.interior != prev.interior).any(axis=1)
        grown = np.where(new_face, np.maximum(grown, start_radius), grown)
        radius = np.where(live, np.where(better, grown, shrunk), radius)
        tol = STEP_TOL * (1.0 + np.abs(prev.theta).max(axis=1))
        scale = np.abs(trial.f) + floor / GAIN_TOL
        # A trial no worse than the objective's rounding noise means the bottom is reached.
        flat_out = ~better & (full_change >= -(NOISE * np.abs(prev.f) + floor))
        finished = live & (
            (better & ((moved <= tol) | (change <= GAIN_TOL * scale))) | flat_out | (radius <= tol)
        )
        converged[ids[finished]] = True
        live &= ~finished
    theta[ids], f[ids], c[ids] = cur.theta, cur.f, cur.c
    return theta, f, c, converged


def _probe_bounds(
    sub: Flat,
    spec: Spec,
    const: dict[str, np.ndarray],
    cur: _State,
    before: np.ndarray,
    live: np.ndarray,
    pinned: np.ndarray,
    radius0: np.ndarray,
) -> tuple[_State, np.ndarray]:
    """Move the live jobs whose exponent has moved :data:`PROBE_MOVE` or more towards a finite bound since
    ``before`` (J, 2) to that bound, with the other exponent polished, where that is lower: (the new
    state, which jobs moved).

    Only bounds where the objective, with the other exponent where it is, is within :data:`PROBE_GATE`
    (relative) of the job's are polished: along a valley that ends on the bound the profile is flat (on
    the paper's grids the probes that paid started at most 1e-10 above the job's objective, most of them
    below), while at a bound the job is not headed for the objective is several times the job's.
    """
    owner, k, bound = headed_bounds(cur.theta, before, spec.e_lo, spec.e_hi, PROBE_MOVE)
    owner, k, bound = owner[live[owner]], k[live[owner]], bound[live[owner]]
    theta0 = cur.theta[owner]
    theta0[np.arange(len(owner)), k] = bound
    pins = pinned[owner] | (np.arange(2) == k[:, None])
    if owner.size:
        near = _evaluate(sub.take(owner), spec, _of_fits(const, sub, owner), theta0).f
        near = near <= cur.f[owner] * (1 + PROBE_GATE)
        owner, theta0, pins = owner[near], theta0[near], pins[near]
    if not owner.size:
        return cur, np.zeros(len(live), bool)
    theta, f, _, _ = _polish(sub.take(owner), spec, theta0, radius0[owner], _of_fits(const, sub, owner), pins)
    best = lowest_of_each(owner, f, sub.n_fits)  # each job's lowest probe
    jumped = best >= 0
    jumped[jumped] = f[best[jumped]] < cur.f[jumped]
    if not jumped.any():
        return cur, jumped
    theta_new = cur.theta.copy()
    theta_new[jumped] = theta[best[jumped]]
    trial = _evaluate(sub, spec, const, theta_new)
    jumped &= trial.f < cur.f
    return cur.merge(sub, trial, jumped), jumped


def _gather(
    flat: Flat, const: dict[str, np.ndarray], st: _State, jobs: np.ndarray
) -> tuple[Flat, dict[str, np.ndarray], _State]:
    """The sub-problem of ``jobs``: its points, constant sums and state."""
    if len(jobs) == flat.n_fits:
        return flat, const, st
    return flat.restrict(jobs), _of_fits(const, flat, jobs), st.select(flat, jobs)


def _of_fits(sums: dict[str, np.ndarray], flat: Flat, fits: np.ndarray) -> dict[str, np.ndarray]:
    """Per-segment arrays of ``flat`` for the fits listed (repeats allowed), in that order."""
    segs = flat.segments_of(fits)
    return {k: v[segs] for k, v in sums.items()}


# -- driver -----------------------------------------------------------------------------------------


def _spacing(g: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Local grid spacing around indices ``i`` (1.0 for a one-point grid, which never moves)."""
    if len(g) == 1:
        return np.ones(len(i))
    inner = (i > 0) & (i < len(g) - 1)
    return (g[np.minimum(i + 1, len(g) - 1)] - g[np.maximum(i - 1, 0)]) / np.where(inner, 2, 1)


def _subcell(q: np.ndarray, g: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through the grid values ``q`` (n, len(g)) around indices ``i`` (n,), along
    ``g``; it stays within half a cell, and at ``g[i]`` where there is no upward parabola."""
    rows, last = np.arange(len(i)), len(g) - 1
    lo, mid, hi = q[rows, np.maximum(i - 1, 0)], q[rows, i], q[rows, np.minimum(i + 1, last)]
    with np.errstate(invalid="ignore", divide="ignore"):
        curv = lo - 2 * mid + hi
        t = np.clip(0.5 * (lo - hi) / curv, -0.5, 0.5)  # in units of cells
    usable = (i > 0) & (i < last) & np.isfinite(lo) & np.isfinite(mid) & np.isfinite(hi) & (curv > 0)
    step = np.where(t > 0, g[np.minimum(i + 1, last)] - g[i], g[i] - g[np.maximum(i - 1, 0)])
    return np.where(usable, g[i] + t * step, g[i])


@dataclass(frozen=True)
class Solution:
    """Per fit: public parameters in the order of :attr:`Spec.names`, objective, convergence."""

    params: np.ndarray  #: (K, 5)
    value: np.ndarray  #: (K,) objective as the solver computed it (the caller recomputes it exactly)
    converged: np.ndarray  #: (K,)


def _candidates(
    flat: Flat, spec: Spec, const: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting points for the polish: (owner fit, exponents, trust radius) of each grid basin kept."""
    per_chunk = max(1, MAX_GRID_CELLS // (len(spec.grid(0)) * len(spec.grid(1))))
    owners, theta0, radius0 = [np.zeros(0, np.int64)], [np.zeros((0, 2))], [np.zeros(0)]
    for first in range(0, flat.n_fits, per_chunk):
        fits = np.arange(first, min(first + per_chunk, flat.n_fits))
        chunk = flat.restrict(fits)
        q, _, ga, gb = _grid_profile(chunk, spec, const if chunk is flat else _of_fits(const, flat, fits))
        k, a, b = _local_minima(q)
        owners.append(fits[k])
        theta0.append(np.column_stack([_subcell(q[k, :, b], ga, a), _subcell(q[k, a, :], gb, b)]))
        radius0.append(np.maximum(_spacing(ga, a), _spacing(gb, b)))
    return np.concatenate(owners), np.concatenate(theta0), np.concatenate(radius0)


def _best(n_fits: int, owners: np.ndarray, params: np.ndarray, f: np.ndarray, conv: np.ndarray) -> Solution:
    """Each fit's best job (ties: the first)."""
    best = lowest_of_each(owners, f, n_fits)
    some = best >= 0
    best_params = np.full((n_fits, 5), np.nan)
    value = np.full(n_fits, np.inf)
    converged = np.zeros(n_fits, bool)
    best_params[some], value[some], converged[some] = params[best[some]], f[best[some]], conv[best[some]]
    return Solution(best_params, value, converged)


def _rounding(flat: Flat) -> np.ndarray:
    """(K,) absolute rounding of each fit's profile objective (:data:`ROUNDING` of its sum of squares)."""
    return ROUNDING * flat.fit_sum_of_segments(flat.seg_yy)


def _as_z(ymean: np.ndarray, theta: np.ndarray, c: np.ndarray) -> np.ndarray:
    """(J, 5) z = (E, c1, alpha, c2, beta), the variables of the Newton polish, from exponents ``theta``
    (J, 2) and internal coefficients ``c`` (J, 3) whose constant is centred on ``ymean`` (J,)."""
    return np.column_stack([c[:, 0] + ymean, c[:, 1], theta[:, 0], c[:, 2], theta[:, 1]])


def _screen_and_polish(flat: Flat, spec: Spec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every basin the screen keeps, polished: (owner fit, z (:func:`_as_z`), objective, converged) per
    job. The Huber path (:mod:`._huber`) takes them as starts (the least-squares optima of its surrogates)."""
    const = _constant_sums(flat)
    owners, theta0, radius0 = _candidates(flat, spec, const)
    if owners.size == 0:
        return owners, np.zeros((0, 5)), np.zeros(0), np.zeros(0, bool)
    jobs = owners, *_polish(flat.take(owners), spec, theta0, radius0, _of_fits(const, flat, owners))
    more = _absent_term_starts(flat, spec, const, *jobs[:4])
    if more[0].size:
        polished = more[0], *_polish(flat.take(more[0]), spec, *more[1:], _of_fits(const, flat, more[0]))
        jobs = tuple(np.concatenate(pair) for pair in zip(jobs, polished, strict=True))
    owners, theta, f, c, converged = jobs
    return owners, _as_z(flat.ymean[owners], theta, c), f, converged


def _absent_term_starts(
    flat: Flat,
    spec: Spec,
    const: dict[str, np.ndarray],
    owners: np.ndarray,
    theta: np.ndarray,
    f: np.ndarray,
    c: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starts for jobs that ended with a term absent (its coefficient on a zero bound, so its exponent does
    nothing): that exponent's grid values, the other exponent where the job left it, wherever that is lower
    than the job: (owner fit, exponents, trust radius), at most one per job and term.

    A term that fits a few points only sits in a valley the screening grid can straddle: on a random family
    of 20 points with E on its bound, B / D^beta with beta = 4.5 fits the first checkpoints, and alpha's
    valley there is narrower than the grid's spacing, so every grid cell near it was higher than cells with
    B = 0, and the fit ended 3.7 % above the reference with no B term at all.
    """
    out = [np.zeros(0, np.int64)], [np.zeros((0, 2))], [np.zeros(0)]
    for j in (0, 1):  # exponent j, coefficient j + 1
        if not spec.e_free[j] or spec.held[j + 1] or spec.c_lo[j + 1] != 0:
            continue
        absent = np.flatnonzero(c[:, j + 1] == 0)
        if absent.size == 0:
            continue
        g = spec.grid(j)
        job = np.repeat(absent, len(g))
        cells = theta[job]
        cells[:, j] = np.tile(g, len(absent))
        value = _evaluate(flat.take(owners[job]), spec, _of_fits(const, flat, owners[job]), cells).f
        best = np.argmin(value.reshape(len(absent), len(g)), axis=1)
        pick = np.arange(len(absent)) * len(g) + best
        lower = value[pick] < f[absent]
        out[0].append(owners[absent[lower]])
        out[1].append(cells[pick[lower]])
        out[2].append(_spacing(g, best[lower]))
    return tuple(np.concatenate(x) for x in out)


def solve(flat: Flat, spec: Spec) -> Solution:
    """Global least-squares fit of every fit in ``flat`` (weights ``flat.w``).

    Where the profile's rounding (:data:`ROUNDING` of the data's sum of squares) may exceed
    :data:`RESIDUAL_FORM` of a fit's objective (the law explains all but a millionth of the variance),
    the normal equations cannot tell the fit's lowest points apart: its jobs are
    polished again, and compared, on the residuals themselves (:func:`._newton.polish`).
    """
    owners, z, f, conv = _screen_and_polish(flat, spec)
    lowest = np.full(flat.n_fits, np.inf)
    np.minimum.at(lowest, owners, f)
    fine = _rounding(flat) > RESIDUAL_FORM * lowest
    again = fine[owners]
    if again.any():  # (every job of such a fit, so that its jobs' objectives stay comparable)
        z[again], f[again], settled = _newton.polish(flat.take(owners[again]), spec, LEAST_SQUARES, z[again])
        conv[again] |= settled  # (it starts where the profile's polish converged, and only goes lower)
    return _best(flat.n_fits, owners, _public(flat, spec, owners, z), f, conv)


def _public(flat: Flat, spec: Spec, owners: np.ndarray, z: np.ndarray) -> np.ndarray:
    """(J, 5) public (E, A, alpha, B, beta) of jobs at z = (E, c1, alpha, c2, beta), held ones exact."""
    scale = spec.scales(flat.ref1[owners], flat.ref2[owners], z[:, 2], z[:, 4])
    E, A, B = np.where(np.array(spec.held), spec.c_value, z[:, [0, 1, 3]] / scale).T
    return np.column_stack([E, A, z[:, 2], B, z[:, 4]])
