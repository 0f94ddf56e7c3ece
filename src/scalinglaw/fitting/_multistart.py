"""Batched multi-start Levenberg-Marquardt for laws without separable structure (e.g. Kaplan's form).

Every free parameter is searched on its own scale (log for positive scale constants, linear for
exponents). Starts are the product of the parameters' grids plus the law's starting point; all starts of
all fits are scored at once, the best :data:`N_POLISH` per fit are polished together by
Levenberg-Marquardt with a forward-difference Jacobian (a parameter on a bound that the gradient pushes
outwards sits out the step; a job still running after :data:`GEODESIC_AFTER` steps, crawling along a curved
valley, takes geodesic acceleration), and the best result per fit is kept. For
``huber_log`` the normal matrix is the iteratively-reweighted one (weights min(1, delta / |r|)) and the
gradient is exact. Deterministic: no random starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from scalinglaw.fitting._data import Problem
from scalinglaw.fitting.objectives import Objective
from scalinglaw.laws import Law

#: Starts polished per fit.
N_POLISH = 8
#: Levenberg-Marquardt stopping rules. On the paper's grids of every family, Kaplan's form crawls
#: towards an exponent's bound on many fits: with 300 steps 91 of its 1,206 fits (both objectives)
#: reported `failed`, with 1,000 steps 33 (79 lower, none higher).
GAIN_TOL = 1e-14
MAX_ITER = 1000
#: Relative forward-difference step for the Jacobian.
FD_STEP = 1e-7
#: Jobs still running after GEODESIC_AFTER steps take geodesic acceleration (:func:`_accelerated`), with
#: the finite-difference step GEODESIC_H along the step, where it is at most GEODESIC_RATIO of the step
#: (Transtrum and Sethna's values). From the start it sent some jobs to other basins (21 of Kaplan's 1,206
#: grid fits ended higher, one 28x); after 100 steps only crawls, along curved valleys, take it.
GEODESIC_AFTER = 100
GEODESIC_H = 0.1
GEODESIC_RATIO = 0.75


class _Space:
    """Map between public values and the solver's scale for the free parameters of ``law``."""

    def __init__(self, law: Law) -> None:
        self.law = law
        self.free = [p for p in law.params if not p.fixed]
        self.log = np.array([p.log_scale for p in self.free])
        with np.errstate(divide="ignore"):
            self.lo = np.array([np.log(p.lower) if p.log_scale else p.lower for p in self.free])
            self.hi = np.array([np.log(p.upper) if p.log_scale else p.upper for p in self.free])

    def to_internal(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.where(self.log, np.log(np.where(self.log, values, 1.0)), values)

    def to_public(self, z: np.ndarray) -> np.ndarray:
        return np.where(self.log, np.exp(z), z)

    def starts(self) -> np.ndarray:
        grids = [p.grid or (p.start,) for p in self.free]
        points = [*itertools.product(*grids), tuple(p.start for p in self.free)]
        return np.clip(self.to_internal(np.array(points, dtype=float)), self.lo, self.hi)

    def params(self, z: np.ndarray) -> dict[str, np.ndarray]:
        """Public parameter arrays, shape (J, 1), for broadcasting against (J, n) inputs."""
        values = {p.name: np.full((len(z), 1), p.start) for p in self.law.params if p.fixed}
        public = self.to_public(z)
        for i, p in enumerate(self.free):
            values[p.name] = public[:, i : i + 1]
        return values


def _padded(
    problems: Sequence[Problem], inputs: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    n = max(len(p.loss) for p in problems)
    X = {c: np.ones((len(problems), n)) for c in inputs}
    y = np.ones((len(problems), n))
    w = np.zeros((len(problems), n))
    for k, p in enumerate(problems):
        m = len(p.loss)
        for c in inputs:
            X[c][k, :m] = p.inputs[c]
        y[k, :m], w[k, :m] = p.loss, p.weight
    return X, y, w


def _values(
    law: Law, obj: Objective, space: _Space, z: np.ndarray, X: dict, y: np.ndarray, w: np.ndarray
) -> np.ndarray:
    with np.errstate(all="ignore"):
        pred = law.function(space.params(z), X)
        r = obj.residual(pred, y)
        rho = np.where(w > 0, obj.rho(np.where(np.isfinite(r), r, 0.0)), 0.0)
        bad = ((w > 0) & ~np.isfinite(r)).any(axis=1)
    return np.where(bad, np.inf, (w * rho).sum(axis=1))


def solve(law: Law, obj: Objective, problems: Sequence[Problem]) -> list[tuple[dict[str, float], bool]]:
    """Fit each problem; returns (public parameters, converged) per problem."""
    space = _Space(law)
    X, y, w = _padded(problems, law.inputs)
    K = len(problems)
    starts = space.starts()
    S = len(starts)
    # Score every start of every fit, keep the best few per fit.
    rep = {c: np.repeat(v, S, axis=0) for c, v in X.items()}
    score = _values(
        law, obj, space, np.tile(starts, (K, 1)), rep, np.repeat(y, S, axis=0), np.repeat(w, S, axis=0)
    )
    score = score.reshape(K, S)
    keep = np.argsort(score, axis=1, kind="stable")[:, :N_POLISH]
    owners = np.repeat(np.arange(K), keep.shape[1])
    z0 = starts[keep.ravel()]
    z, f, conv = _polish(law, obj, space, z0, {c: v[owners] for c, v in X.items()}, y[owners], w[owners])
    out = []
    for k in range(K):
        mine = np.flatnonzero(owners == k)
        j = mine[np.argmin(f[mine])]
        values = dict(law.fixed)
        values.update(zip((p.name for p in space.free), space.to_public(z[j]), strict=True))
        out.append(({n: float(values[n]) for n in law.names}, bool(conv[j] and np.isfinite(f[j]))))
    return out


def _accelerated(
    residual: Callable[[np.ndarray], np.ndarray],
    z: np.ndarray,
    r: np.ndarray,
    Jac: np.ndarray,
    weight: np.ndarray,
    A: np.ndarray,
    held: np.ndarray,
    step: np.ndarray,
) -> np.ndarray:
    """``step`` plus half its geodesic acceleration (Transtrum and Sethna 2012), where that is at most
    :data:`GEODESIC_RATIO` of it in size: the residuals' second derivative along the step (a finite
    difference) turns it along a curved valley. ``A``: the damped normal matrix the step solved."""
    with np.errstate(all="ignore"):
        bend = (residual(z + GEODESIC_H * step) - r) / GEODESIC_H - np.einsum("jna,ja->jn", Jac, step)
        bend = np.where(weight > 0, 2.0 / GEODESIC_H * bend, 0.0)
        rhs = np.einsum("jn,jna->ja", weight * np.where(np.isfinite(bend), bend, 0.0), Jac)
        accel = -np.linalg.solve(A, np.where(held, 0.0, rhs)[:, :, None])[:, :, 0]
        size = np.sqrt(np.diagonal(A, axis1=1, axis2=2))  # (the damped curvature scales each parameter)
        ratio = 2.0 * np.linalg.norm(size * accel, axis=1) / np.linalg.norm(size * step, axis=1)
    use = (ratio <= GEODESIC_RATIO) & np.isfinite(accel).all(axis=1)
    return np.where(use[:, None], step + 0.5 * accel, step)


def _polish(
    law: Law, obj: Objective, space: _Space, z: np.ndarray, X: dict, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = _values(law, obj, space, z, X, y, w)
    lam = np.full(len(z), 1e-3)
    active = np.isfinite(f)
    converged = np.zeros(len(z), bool)
    p = z.shape[1]
    for it in range(MAX_ITER):
        jobs = np.flatnonzero(active)
        if jobs.size == 0:
            break
        zj, Xj, yj, wj = z[jobs], {c: v[jobs] for c, v in X.items()}, y[jobs], w[jobs]

        def residual(at: np.ndarray, Xj: dict = Xj, yj: np.ndarray = yj) -> np.ndarray:
            return obj.residual(law.function(space.params(at), Xj), yj)

        with np.errstate(all="ignore"):
            r = residual(zj)
            h = FD_STEP * (1.0 + np.abs(zj))
            Jac = np.empty((*r.shape, p))
            for i in range(p):
                zi = zj.copy()
                zi[:, i] += h[:, i]
                Jac[:, :, i] = (residual(zi) - r) / h[:, i : i + 1]
        r = np.where(wj > 0, r, 0.0)
        Jac = np.where((wj > 0)[:, :, None] & np.isfinite(Jac), Jac, 0.0)
        if obj.delta is None:  # Gauss-Newton for squared error
            weight, grad = wj, wj * r
        else:  # Huber: exact gradient, iteratively reweighted normal matrix (weights psi(r) / r)
            weight = wj * np.minimum(1.0, obj.delta / np.maximum(np.abs(r), 1e-300))
            grad = wj * obj.psi(r)
        JtJ = np.einsum("jn,jna,jnb->jab", weight, Jac, Jac)
        g = np.einsum("jn,jna->ja", grad, Jac)
        d = np.diagonal(JtJ, axis1=1, axis2=2)
        ridge = 1e-12 * d.max(axis=1, keepdims=True) + 1e-300
        A = JtJ + (lam[jobs, None] * d + ridge)[:, :, None] * np.eye(p)
        # A parameter on a bound that the gradient pushes outwards stays there: left in, it would steer
        # the others' step to where it cannot go, and clipping it back leaves a poor step (the polish then
        # crawls along the bound).
        held = ((zj <= space.lo) & (g > 0)) | ((zj >= space.hi) & (g < 0))
        both = held[:, :, None] | held[:, None, :]
        A = np.where(both, np.eye(p), A)
        step = -np.linalg.solve(A, np.where(held, 0.0, g)[:, :, None])[:, :, 0]
        if it >= GEODESIC_AFTER:
            step = _accelerated(residual, zj, r, Jac, weight, A, held, step)  # (weight: 0 on padding)
        trial = np.clip(zj + step, space.lo, space.hi)
        f_trial = _values(law, obj, space, trial, Xj, yj, wj)
        better = f_trial < f[jobs]
        with np.errstate(invalid="ignore"):  # inf - inf for trials that left the domain
            gain = (f[jobs] - f_trial) / np.maximum(np.abs(f_trial), 1e-300)
        acc = jobs[better]
        z[acc], f[acc] = trial[better], f_trial[better]
        lam[acc] = np.maximum(lam[acc] * 0.3, 1e-12)
        lam[jobs[~better]] *= 10.0
        finished = (better & (gain <= GAIN_TOL)) | (lam[jobs] > 1e14)
        converged[jobs[finished]] = True
        active[jobs[finished]] = False
    return z, f, converged
