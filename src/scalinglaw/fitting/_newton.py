"""Exact polish of the Huber log-space objective for separable laws: bounded Newton, batched over jobs.

The variable-projection screen (:mod:`._varpro`) finds the basins with the log-space least-squares
surrogate; this module then minimises sum w H_delta(ln L_hat - ln L) itself over all five parameters
(the linear ones are no longer linear on the log scale). (The least-squares path uses it too, on the
squared residuals themselves, where the normal equations' rounding is too coarse: any
:class:`~scalinglaw.fitting.objectives.Objective` works.) Newton steps use the exact Hessian of the Huber
objective, damped Levenberg-Marquardt style until they descend; bounds are honoured by freezing variables
that sit on a bound and are pushed outwards, then projecting. With delta = 1e-3 most residuals fall in
Huber's linear zone, where only the curvature of ln L_hat contributes; the exact Hessian keeps the
convergence fast there, where a Gauss-Newton (IRLS) matrix would crawl. A job whose steps crawl
anyway, along a valley that is curved in its coordinates, switches the coefficients A and B to log
coordinates, in which the valleys of a term that makes up for its exponent's change are straight. A job
whose exact steps all fail (few points inside +-delta to give the curvature, so every step crosses kinks)
goes on with steps that minimise the objective of its linearised residuals, kinks and all (Gauss-Newton
for a piecewise quadratic, solved exactly: :func:`_linearised_step`).
A job that crawls in both coordinates, with the constant or an exponent heading for a bound, probes
that bound (once per bound): the variable put on it and the rest polished; the crawl jumps there if that
is lower. So does a job still running at :data:`LONG_RUN_CHECKS` steps (it may head for a bound too fast
to count as crawling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scalinglaw.fitting._flat import Flat, headed_bounds, lowest_of_each
from scalinglaw.fitting.objectives import Objective

if TYPE_CHECKING:
    from scalinglaw.fitting._varpro import Spec

#: Stop when an accepted step improves the objective by less than this (relative), or after MAX_ITER.
#: Near-L1 problems (most residuals beyond delta) need many steps: each point crossing +-delta changes
#: the quadratic model. Only the jobs still running pay for them.
GAIN_TOL = 1e-14
MAX_ITER = 1000
#: Initial Levenberg-Marquardt damping (relative to the Hessian's diagonal).
LAMBDA0 = 1e-4
#: A job crawls when CRAWL_STEPS accepted steps gain less than CRAWL_GAIN each on average (relative):
#: Newton steps that converge gain orders of magnitude more each, until they stop. A crawling job switches
#: its coefficients' coordinates (linear <-> log) and carries on. (Averaged, not step by step: in a valley
#: of kinks, occasional larger gains and failed steps interleave with the crawl. The values are measured:
#: 10 and 1e-5 or 1e-7 leave a fit of OPT's grid crawling, 10 and 1e-6 none there or in 800 random
#: synthetic families.)
CRAWL_STEPS = 10
CRAWL_GAIN = 1e-6
#: A job whose steps stop only because the damping grew past STALL (the exact Hessian misjudges every
#: step: with most residuals in Huber's linear zone and few points, its curvature is that of the few
#: points inside +-delta, and a step moves points across) carries on with linearised steps
#: (:func:`_linearised_step`), which see the kinks. (Before, it went on with the IRLS Hessian of Huber's
#: quadratic majorizer: steps that always go downhill, but crawl in such a valley. On a synthetic family of
#: 18 points, with (B, beta) held, that stopped 4.3e-8 above the optimum; the linearised steps reach it. On
#: the 3,618 grid fits either reaches the same objectives, to 1e-13.)
STALL = 1e6
#: Semismooth Newton iterations per linearised step (each reaches the next kink or the minimiser).
LINEARISED_ITER = 30
#: A job that crawls in both coordinates probes the bound the constant or an exponent heads for, if it
#: moved PROBE_MOVE or more towards it since the last crawl check; the probe's polish takes at most PROBE_ITER
#: steps. Measured on the 3,618 grid fits: probing at every crawl, with no move threshold and no step cap,
#: took the Huber sweep from 19 s to 34 s (probes of jobs settling a near-L1 basin polish for hundreds of
#: steps); as set, it adds at most 0.5 s to those 19 s and ends the one crawl the step cap cut short
#: (a Pythia fit).
PROBE_MOVE = 1e-3
PROBE_ITER = 200
#: A job still running at each of these step counts probes the bounds it has moved PROBE_MOVE or more
#: towards since the previous one (since its start, at the first). A job can head for a bound too fast to
#: count as crawling and still take thousands of steps to get there: on a random family of 8 points on
#: four sizes, alpha went from 1.0 to 4.4 in 1,000 steps, gaining 1.6e-6 a step, and the fit reported
#: `failed`; its optimum has alpha on its bound (5).
LONG_RUN_CHECKS = (100, 200, 400, 800)


#: The variables (E, c1, alpha, c2, beta) that step in log coordinates where they can.
_COEFFICIENT = np.array([False, True, False, True, False])
_DIAGONAL = np.arange(5)
#: Position of each upper-triangle entry (i, k) of a 5x5 matrix in np.triu_indices(5) order.
_IU, _KU = np.triu_indices(5)
_UPPER = {(int(i), int(k)): n for n, (i, k) in enumerate(zip(_IU, _KU, strict=True))}


@dataclass(frozen=True)
class _Terms:
    """The law's terms at z = (J, 5) = (E, c1, alpha, c2, beta) internal values, for every point.

    The constant and the x1 term are the same for all points of a segment (one model size), so they are
    kept per segment; only the x2 term is per point.
    """

    c: np.ndarray  #: (J, 3) coefficients; held ones recomputed from their public value at the exponents
    u: np.ndarray  #: (S,) the x1 basis
    v: np.ndarray  #: (T,) the x2 basis
    pred: np.ndarray  #: (T,) the prediction


def _terms(flat: Flat, spec: Spec, z: np.ndarray) -> _Terms:
    alpha, beta = z[:, 2], z[:, 4]
    scale = spec.scales(flat.ref1, flat.ref2, alpha, beta)
    c = np.where(np.array(spec.held), spec.c_value * scale, z[:, [0, 1, 3]])
    seg = flat.seg_fit
    u = np.exp(-alpha[seg] * flat.seg_l1)
    v = np.exp(-flat.per_point(beta) * flat.l2)
    pred = flat.seg_to_point(c[seg, 0] + c[seg, 1] * u) + flat.per_point(c[:, 2]) * v
    return _Terms(c, u, v, pred)


def _exponent_factors(flat: Flat, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """(e1 (S,), e2 (T,)): -d ln u / d alpha and -d ln v / d beta, the centred logs of x1 and x2, plus
    the centre where the term's coefficient is held (its internal value then moves with the exponent)."""
    e1 = flat.seg_l1 + flat.ref1[flat.seg_fit] if spec.held[1] else flat.seg_l1
    e2 = flat.l2 + flat.per_point(flat.ref2) if spec.held[2] else flat.l2
    return e1, e2


def _jacobian(flat: Flat, spec: Spec, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prediction (T,), its derivatives (5, T) in z) at every point."""
    t = _terms(flat, spec, z)
    e1, e2 = _exponent_factors(flat, spec)
    c1, c2 = flat.per_point(t.c[:, 1]), flat.per_point(t.c[:, 2])
    u, e1 = flat.seg_to_point(t.u), flat.seg_to_point(e1)
    return t.pred, np.stack([np.ones_like(t.v), u, -c1 * e1 * u, t.v, -c2 * e2 * t.v])


def _objective(flat: Flat, obj: Objective, scaled_loss: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Each job's objective; ``scaled_loss``: the losses on the residuals' scale (:meth:`Objective.scale`)."""
    rho = obj.rho(obj.scale(pred) - scaled_loss)
    return flat.fit_sum(flat.w * np.where(np.isnan(rho), np.inf, rho))  # (NaN: a prediction out of domain)


def prediction(flat: Flat, spec: Spec, z: np.ndarray) -> np.ndarray:
    """The law's prediction at every point, with each job's parameters ``z`` (J, 5)."""
    return _terms(flat, spec, z).pred


def value(flat: Flat, spec: Spec, obj: Objective, z: np.ndarray) -> np.ndarray:
    """The objective of each job at ``z`` (J, 5)."""
    return _objective(flat, obj, obj.scale(flat.loss), prediction(flat, spec, z))


def polish(
    flat: Flat,
    spec: Spec,
    obj: Objective,
    z0: np.ndarray,
    pinned: np.ndarray | None = None,
    max_iter: int = MAX_ITER,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise the objective from starts ``z0`` (J, 5); returns (z, value, converged).

    ``flat.y`` is centred; the loss itself is ``flat.loss``. ``flat.w`` are the data weights. Variables
    marked ``pinned`` (J, 5) stay at their start: that is a bound probe (:func:`_probe_bounds`), which
    probes no further.
    """
    sy = obj.scale(flat.loss)  # (the losses' logs, taken once)
    free = np.array([not spec.held[0], not spec.held[1], spec.e_free[0], not spec.held[2], spec.e_free[1]])
    free = np.broadcast_to(free, z0.shape) if pinned is None else free & ~pinned
    # internal bounds of each variable (coefficient bounds move with the exponents; refreshed each step)
    z = z0.copy()
    f = _objective(flat, obj, sy, prediction(flat, spec, z))
    lam = np.full(len(z), LAMBDA0)
    nu = np.full(len(z), 2.0)
    active = np.isfinite(f)
    converged = np.zeros(len(z), bool)
    in_log = np.zeros(len(z), bool)
    # the bounds each job has probed, per variable and side (a probe's own polish probes none)
    probed = np.full((len(z), 5, 2), pinned is not None)
    z_check = z.copy()  # each job's point at its last crawl check
    z_mark = z.copy()  # ... and at its last long-run check
    steps, gained = np.zeros(len(z), int), np.zeros(len(z))  # accepted steps since the last crawl check
    linearised = np.zeros(len(z), bool)  # steps minimise the linearised objective (see STALL)
    g, H = np.zeros((len(z), 5)), np.zeros((len(z), 5, 5))
    # g, H are computed again only for jobs that moved: a failed step leaves them as they were, and most
    # steps fail while a near-L1 job settles (points cross +-delta), so this is most of the work saved
    stale = np.ones(len(z), bool)

    def probe_and_jump(candidates: np.ndarray, before: np.ndarray) -> None:
        """Probe the bounds the ``candidates`` (jobs) head for since ``before``; jump where lower."""
        probe = candidates[~probed[candidates].all(axis=(1, 2))]
        if probe.size:
            z_probe, f_probe, probed[probe] = _probe_bounds(
                flat.restrict(probe), spec, obj, z[probe], before[probe], probed[probe]
            )
            lower = f_probe < f[probe]
            z[probe[lower]], f[probe[lower]], stale[probe[lower]] = z_probe[lower], f_probe[lower], True

    jobs = None
    for it in range(max_iter):
        running = np.flatnonzero(active)
        if running.size == 0:
            break
        if it in LONG_RUN_CHECKS:
            probe_and_jump(running, z_mark)
            z_mark[running] = z[running]
        if jobs is None or len(running) != len(jobs):  # (jobs only ever finish: a new set is smaller)
            jobs = running
            sub = flat.restrict(jobs)
            ys = sy if sub is flat else sy[flat.points_of(jobs)]
        moved = stale[jobs]
        if moved.all():
            g[jobs], H[jobs] = _derivatives(sub, spec, obj, ys, z[jobs])
        elif moved.any():
            some = jobs[moved]
            g[some], H[some] = _derivatives(flat.restrict(some), spec, obj, sy[flat.points_of(some)], z[some])
        stale[jobs] = False
        zj, gj = z[jobs], g[jobs]
        lo, hi = _bounds(sub, spec, zj)
        # variables on a bound and pushed outwards stay there for this step
        move = free[jobs] & ~(((zj <= lo) & (gj > 0)) | ((zj >= hi) & (gj < 0)))
        # Steps are taken in the variables themselves or, once a job crawls, with the coefficients A and B
        # (above a lower bound >= 0) in log coordinates, and back again if it crawls there too. Where a
        # coefficient makes up for its exponent's change (c e^(-beta l) held where the term matters: a
        # term that only fits the first checkpoints, or two model sizes), the valley is straight in
        # (ln c, beta) and curved in (c, beta); where a term trades with the constant (beta near 0), it is
        # the other way round.
        logc = move & _COEFFICIENT & (zj > 0) & (lo >= 0) & in_log[jobs][:, None]
        trial, predicted = _step(H[jobs], gj, zj, lo, hi, lam[jobs], move, logc)
        kinked = linearised[jobs]
        if kinked.any():
            some = jobs[kinked]
            trial[kinked], predicted[kinked] = _linearised_step(
                flat.restrict(some),
                spec,
                obj,
                sy[flat.points_of(some)],
                z[some],
                lo[kinked],
                hi[kinked],
                lam[some],
                move[kinked],
            )
        step = trial - zj
        f_trial = _objective(sub, obj, ys, prediction(sub, spec, trial))
        better = f_trial < f[jobs]
        with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf for trials that left the domain
            gain = (f[jobs] - f_trial) / np.maximum(np.abs(f_trial), 1e-300)
            ratio = np.where(predicted > 0, (f[jobs] - f_trial) / predicted, 0.0)
        # Nielsen's damping update: relax in proportion to how well the quadratic model predicted the
        # decrease; on failure raise the damping geometrically faster each time.
        factor = np.where(better, np.maximum(1 / 3, 1 - (2 * np.clip(ratio, 0, 1) - 1) ** 3), nu[jobs])
        lam[jobs] = np.maximum(lam[jobs] * factor, 1e-12)
        nu[jobs] = np.where(better, 2.0, 2.0 * nu[jobs])
        acc = jobs[better]
        z[acc], f[acc] = trial[better], f_trial[better]
        stale[acc] = True
        # every CRAWL_STEPS accepted steps, a job that gained less than CRAWL_GAIN a step on the whole crawls
        steps[acc] += 1
        gained[acc] += gain[better]
        due = acc[steps[acc] >= CRAWL_STEPS]
        crawls = due[gained[due] < CRAWL_GAIN * CRAWL_STEPS]
        in_log[crawls] = ~in_log[crawls]
        # A job that crawls in log coordinates too (its second crawl check) probes the bounds it heads for.
        probe_and_jump(crawls[~in_log[crawls]], z_check)
        steps[due], gained[due], z_check[due] = 0, 0.0, z[due]
        tiny = np.abs(step).max(axis=1) <= 1e-13 * (1.0 + np.abs(zj).max(axis=1))
        finished = (better & (gain <= GAIN_TOL)) | tiny | (lam[jobs] > 1e14)
        stalls = finished & (lam[jobs] > STALL) & ~linearised[jobs] & (obj.delta is not None)
        stalled = jobs[stalls]
        linearised[stalled], lam[stalled], nu[stalled] = True, LAMBDA0, 2.0
        finished &= ~stalls
        converged[jobs[finished]] = True
        active[jobs[finished]] = False
    return z, f, converged


def _probe_bounds(
    flat: Flat, spec: Spec, obj: Objective, z: np.ndarray, before: np.ndarray, probed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For crawling jobs at ``z`` (J, 5), which were at ``before`` one crawl check earlier: each job's best
    point with the constant or an exponent that has been moving towards a bound it has not probed yet
    (``probed`` (J, 5, 2): per variable, its lower and upper bound) put on it and the other variables
    polished; its objective (inf where nothing was probed); and ``probed`` updated.

    A crawl towards a bound can take thousands of steps (a valley curved in every coordinate, along which
    a coefficient makes up for the exponent; two model sizes make them; or a term with an exponent near 0
    that trades with the constant, which heads for 0). Its end is often on the bound, and there the rest
    is a short polish. Each bound is probed once: a crawl can turn towards another one later.
    """
    columns = np.array([0, 2, 4])  # (E and the exponents)
    lo, hi = _bounds(flat, spec, z)
    owner, k, bound = headed_bounds(
        z[:, columns], before[:, columns], lo[:, columns], hi[:, columns], PROBE_MOVE
    )
    column = columns[k]
    side = (bound == hi[owner, column]).astype(int)
    new = ~probed[owner, column, side]
    owner, column, bound, side = owner[new], column[new], bound[new], side[new]
    probed = probed.copy()
    probed[owner, column, side] = True
    start = z[owner]
    start[np.arange(len(owner)), column] = bound
    z_best, f_best = z.copy(), np.full(len(z), np.inf)
    if owner.size:
        pinned = np.arange(5) == column[:, None]
        zr, fr, _ = polish(flat.take(owner), spec, obj, start, pinned, PROBE_ITER)
        best = lowest_of_each(owner, fr, len(z))  # each job's lowest probe
        some = best >= 0
        z_best[some], f_best[some] = zr[best[some]], fr[best[some]]
    return z_best, f_best, probed


def _derivatives(
    flat: Flat, spec: Spec, obj: Objective, sy: np.ndarray, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (J, 5) and Hessian (J, 5, 5) of every job's objective at ``z`` (J, 5); ``sy``: the losses
    on the residuals' scale.

    With the residual r = s(L_hat) - s(L) (s = ln or the identity), the gradient is sum w psi r' and
    the Hessian sum w (psi' r' r'^T + psi r''), where r' = s' grad and r'' = s' curv + s'' grad grad^T
    (grad, curv: the prediction's first and second derivatives in z). So both are sums of the
    prediction's derivatives weighted by q = w psi s' and, for the grad grad^T part, by
    p = w (psi' s'^2 + psi s''). The derivatives of the constant and the x1 term are the same for all
    points of a segment: the sums over points are taken of the weights times powers of the x2 basis
    only (ten per segment), and the x1 term's factors applied per segment.
    """
    t = _terms(flat, spec, z)
    e1, e2 = _exponent_factors(flat, spec)
    r = obj.scale(t.pred) - sy
    psi, dpsi = obj.psi(r), obj.psi_prime(r)
    w = flat.w
    if obj.log_space:  # s' = 1 / L_hat, s'' = -1 / L_hat^2
        q = w * psi / t.pred
        p = w * (dpsi - psi) / (t.pred * t.pred)
    else:
        q, p = w * psi, w * dpsi
    X = np.empty((10, len(w)))
    X[0], X[6] = p, q
    pv = np.multiply(p, t.v, out=X[1])
    np.multiply(pv, e2, out=X[2])
    pvv = np.multiply(pv, t.v, out=X[3])
    pvve = np.multiply(pvv, e2, out=X[4])
    np.multiply(pvve, e2, out=X[5])
    qv = np.multiply(q, t.v, out=X[7])
    qve = np.multiply(qv, e2, out=X[8])
    np.multiply(qve, e2, out=X[9])
    P, Pv, Pve, Pvv, Pvve, Pvvee, Q, Qv, Qve, Qvee = flat.seg_sum(X)
    # grad = (1, u, k u, v, -c2 e2 v) with k = -c1 e1 per segment; curv: d2/dc1 dalpha = -e1 u,
    # d2/dalpha2 = c1 e1^2 u, d2/dc2 dbeta = -e2 v, d2/dbeta2 = c2 e2^2 v
    seg = flat.seg_fit
    c1, c2 = t.c[seg, 1], t.c[seg, 2]
    u = t.u
    k = -c1 * e1
    ku = k * u
    entries = {
        (0, 0): P,
        (0, 1): u * P,
        (0, 2): ku * P,
        (0, 3): Pv,
        (0, 4): -c2 * Pve,
        (1, 1): u * u * P,
        (1, 2): ku * u * P - e1 * u * Q,
        (1, 3): u * Pv,
        (1, 4): -c2 * u * Pve,
        (2, 2): ku * ku * P + c1 * e1 * e1 * u * Q,
        (2, 3): ku * Pv,
        (2, 4): -c2 * ku * Pve,
        (3, 3): Pvv,
        (3, 4): -c2 * Pvve - Qve,
        (4, 4): c2 * c2 * Pvvee + c2 * Qvee,
    }
    gradient = (Q, u * Q, ku * Q, Qv, -c2 * Qve)
    sums = flat.fit_sum_of_segments(np.stack([*gradient, *(entries[ik] for ik in _UPPER)]))  # (20, J)
    return sums[:5].T, _symmetric(sums[5:])


def _symmetric(upper: np.ndarray) -> np.ndarray:
    """(J, 5, 5) symmetric matrices from their upper triangles (15, J), in :data:`_UPPER` order."""
    out = np.empty((upper.shape[1], 5, 5))
    out[:, _IU, _KU] = upper.T
    out[:, _KU, _IU] = upper.T
    return out


def _linearised_step(
    flat: Flat,
    spec: Spec,
    obj: Objective,
    sy: np.ndarray,
    z: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    lam: np.ndarray,
    move: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The step that minimises the objective of the residuals linearised at ``z`` (J, 5), kinks and all,
    plus the damping lam d'Dd / 2 (D the Gauss-Newton diagonal): the trial point and the decrease the
    linearised objective predicts for it.

    The linearised objective is piecewise quadratic and convex. Semismooth Newton steps on it (the
    Hessian of the points inside +-delta at the current iterate, plus the damping) with an exact line
    search through the kinks reach its minimiser in a few iterations. Where most residuals are past delta
    this is what a step must know: which points cross +-delta, and where. The exact Hessian sees only the
    curvature of the points inside; the steps it proposes cross kinks and fail, and the damping that
    makes them succeed makes them tiny.
    """
    pred, grad = _jacobian(flat, spec, z)
    r = obj.scale(pred) - sy
    jac = grad / pred if obj.log_space else grad  # (5, T): the residuals' Jacobian
    w, delta = flat.w, obj.delta
    D = flat.fit_sum(w * jac * jac).T  # (J, 5)
    D = np.where(move, np.maximum(D, 1e-12 * np.maximum(D.max(axis=1, keepdims=True), 1e-300)), 0.0)
    damp = lam[:, None] * D
    x, t = z.copy(), r.copy()  # the step's point, and the linearised residuals there
    for _ in range(LINEARISED_ITER):
        inside = np.abs(t) <= delta
        g = flat.fit_sum(w * obj.psi(t) * jac).T + damp * (x - z)
        wj = (w * inside) * jac
        M = _symmetric(flat.fit_sum(np.stack([wj[i] * jac[k] for i, k in zip(_IU, _KU, strict=True)])))
        M[:, _DIAGONAL, _DIAGONAL] += damp
        # Variables on a bound stay there for this iteration where the gradient, or else the Newton step
        # of the others, pushes them outwards (an active set; each pass fixes one more or is the last).
        moving = move & ~(((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)))
        for _ in range(5):
            both = moving[:, :, None] & moving[:, None, :]
            A = np.where(both, M, 0.0) + np.where(moving, 0.0, 1.0)[:, :, None] * np.eye(5)
            p = np.where(moving, np.linalg.solve(A, np.where(moving, -g, 0.0)[:, :, None])[:, :, 0], 0.0)
            outwards = moving & (((x <= lo) & (p < 0)) | ((x >= hi) & (p > 0)))
            if not outwards.any():
                break
            moving &= ~outwards
        descent = np.einsum("ji,ji->j", g, p) < 0
        p[~descent] = 0.0
        if not descent.any():
            break
        # the longest step along p that keeps every variable within its bounds
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.maximum(np.where(p > 0, (hi - x) / p, np.where(p < 0, (lo - x) / p, np.inf)), 0.0)
        q = np.einsum("jt,jt->t", jac, flat.per_point(p.T))
        s = _line_minimum(
            flat, t, q, delta, np.einsum("ji,ji->j", damp * (x - z), p), np.einsum("ji,ji->j", damp * p, p)
        )
        s = np.minimum(s, room.min(axis=1))
        hit = room <= s[:, None]  # (put exactly on the bound it reached)
        x = np.where(hit, np.where(p > 0, hi, lo), x + s[:, None] * p)
        t = r + np.einsum("jt,jt->t", jac, flat.per_point((x - z).T))
        if (np.abs(s[:, None] * p) <= 1e-15 * (1.0 + np.abs(z))).all():
            break
    predicted = flat.fit_sum(w * (obj.rho(r) - obj.rho(t)))
    return x, predicted


def _line_minimum(
    flat: Flat, t: np.ndarray, q: np.ndarray, delta: float, a: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """For each job, the s >= 0 that minimises sum w H_delta(t + s q) + a s + b s^2 / 2 (b > 0): where the
    derivative, nondecreasing and piecewise linear with a kink wherever a point crosses +-delta, first
    reaches 0 (0 if it is not negative at 0)."""
    n = flat.n_fits
    wq, wdq = flat.w * q, flat.w * delta * np.abs(q)
    moves = q != 0
    with np.errstate(divide="ignore", invalid="ignore"):
        s1, s2 = (delta - t) / q, (-delta - t) / q
    enter, leave = np.minimum(s1, s2), np.maximum(s1, s2)  # a point is inside +-delta in between
    # A point's part of the derivative is -w delta |q| before it enters, w q (t + s q) inside and
    # w delta |q| after it leaves: the derivative's level and slope just past s = 0 ...
    inside = moves & (enter <= 0) & (leave > 0)
    side = np.where(moves & (leave <= 0), 1.0, 0.0) - np.where(moves & (enter > 0), 1.0, 0.0)
    level0 = flat.fit_sum(np.where(inside, wq * t, wdq * side)) + a
    slope0 = flat.fit_sum(np.where(inside, wq * q, 0.0)) + b
    # ... and their changes at the kinks ahead, sorted by job, then s
    ins, outs = moves & (enter > 0), moves & (leave > 0)
    job = np.repeat(np.arange(n), flat.n_points)
    ks = np.concatenate([enter[ins], leave[outs]])
    kj = np.concatenate([job[ins], job[outs]])
    dlevel = np.concatenate([(wq * t + wdq)[ins], (wdq - wq * t)[outs]])
    dslope = np.concatenate([(wq * q)[ins], -(wq * q)[outs]])
    order = np.lexsort((ks, kj))
    ks, kj, dlevel, dslope = ks[order], kj[order], dlevel[order], dslope[order]
    first = np.searchsorted(kj, np.arange(n + 1))  # job j's kinks are first[j] to first[j + 1] - 1
    sum_level, sum_slope = (np.concatenate([[0.0], np.cumsum(x)]) for x in (dlevel, dslope))
    # Piece k of a job ends at its kink k. The root lies in the piece that ends at the first kink where the
    # derivative is >= 0, or else in the last piece, which starts at the job's last kink.
    k = np.arange(len(ks))
    level_k = level0[kj] + sum_level[k] - sum_level[first[kj]]
    slope_k = slope0[kj] + sum_slope[k] - sum_slope[first[kj]]
    piece = first[1:].copy()
    crossed = k[level_k + slope_k * ks >= 0]
    np.minimum.at(piece, kj[crossed], crossed)
    level = level0 + sum_level[piece] - sum_level[first[:-1]]
    slope = slope0 + sum_slope[piece] - sum_slope[first[:-1]]
    kinks = np.append(ks, np.inf)
    start = np.where(piece > first[:-1], kinks[np.maximum(piece - 1, 0)], 0.0)
    end = np.where(piece < first[1:], kinks[piece], np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(slope > 0, -level / slope, start)
    return np.where(level0 >= 0, 0.0, np.clip(root, start, end))


def _step(
    H: np.ndarray,
    g: np.ndarray,
    z: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    lam: np.ndarray,
    move: np.ndarray,
    log: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The damped Newton step from ``z`` with the variables marked ``log`` (all > 0) in coordinates
    w = ln z: the trial point, clipped to the bounds, and the decrease the quadratic model predicts
    for it."""
    dz_dw = np.where(log, z, 1.0)
    gw = g * dz_dw
    Hw = H * dz_dw[:, :, None] * dz_dw[:, None, :]
    Hw[:, _DIAGONAL, _DIAGONAL] += np.where(log, gw, 0.0)
    dw = _damped_newton(Hw, gw, lam, move)
    with np.errstate(over="ignore", invalid="ignore"):  # a step that overflows fails its trial
        trial = np.clip(np.where(log, z * np.exp(np.where(log, dw, 0.0)), z + dw), lo, hi)
        taken = np.where(log, np.log(np.maximum(trial, np.finfo(float).tiny) / dz_dw), trial - z)
        predicted = -(np.einsum("ji,ji->j", gw, taken) + 0.5 * np.einsum("ji,jik,jk->j", taken, Hw, taken))
    return trial, predicted


def _bounds(flat: Flat, spec: Spec, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of each job's variables (E, c1, alpha, c2, beta); the coefficients' bounds scale with
    the current exponents, like the coefficients themselves."""
    scale = spec.scales(flat.ref1, flat.ref2, z[:, 2], z[:, 4])

    def side(c: np.ndarray, e: np.ndarray) -> np.ndarray:
        exponents = np.broadcast_to(e, (len(z), 2))
        return np.column_stack([c * scale, exponents])[:, [0, 1, 3, 2, 4]]

    return side(spec.c_lo, spec.e_lo), side(spec.c_hi, spec.e_hi)


def _damped_newton(H: np.ndarray, g: np.ndarray, lam: np.ndarray, move: np.ndarray) -> np.ndarray:
    """Solve (H + lam D) delta = -g on the moving variables; lam grows until it is positive-definite."""
    both = move[:, :, None] & move[:, None, :]
    A = np.where(both, H, 0.0)
    d = np.abs(np.diagonal(A, axis1=1, axis2=2))
    d = np.where(move, np.maximum(d, 1e-12 * np.maximum(d.max(axis=1, keepdims=True), 1e-300)), 0.0)
    rhs = np.where(move, -g, 0.0)
    lam = lam.copy()
    out = np.zeros_like(g)
    todo = np.arange(len(g))
    for _ in range(60):
        M = A[todo] + (lam[todo, None] * d[todo] + np.where(move[todo], 0.0, 1.0))[:, :, None] * np.eye(5)
        eig = np.linalg.eigvalsh(M)
        pd = eig.min(axis=1) > 0
        if pd.any():
            rows = todo[pd]
            try:
                step = np.linalg.solve(M[pd], rhs[rows][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:
                # LU found a zero pivot in a matrix positive-definite only in rounding (entries hundreds of
                # orders of magnitude apart: a huge coefficient in log coordinates); the eigendecomposition
                # solves it (its rounding mixes the blocks: variables that do not move are set back to 0)
                w, V = np.linalg.eigh(M[pd])
                with np.errstate(over="ignore", invalid="ignore"):  # an overflowing step fails its trial
                    step = np.einsum("nik,nk->ni", V, np.einsum("nki,nk->ni", V, rhs[rows]) / w)
                step = np.where(move[rows], step, 0.0)
            out[rows] = step
        todo = todo[~pd]
        if todo.size == 0:
            break
        lam[todo] = np.maximum(lam[todo] * 10.0, 1e-6)
    return out
