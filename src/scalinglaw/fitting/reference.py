"""Reference fitters built on SciPy, kept to check and time the engine against (and to reproduce the paper).

``curve_fit_paper``
    What Choshen et al. (2024) ran: :func:`scipy.optimize.curve_fit` ("trf", alpha, beta >= 0) on
    (ln A, ln B, ln E, alpha, beta) from Muennighoff et al.'s single starting point, retried with
    "dogbox" when it does not converge. One local search; its optimum depends on the start.
``multistart``
    A dense multi-start: every point of the 4^5 grid of ColPret's L-BFGS variant (ln A, ln B in
    {3, 6, 9, 12}, ln E in {-0.5, 0, 0.5, 1}, alpha, beta in {0.25, 0.5, 0.75, 1}), each polished to
    convergence, the best kept. For ``lsq`` each start runs :func:`scipy.optimize.least_squares` (trf);
    for ``huber_log`` :func:`scipy.optimize.minimize` (L-BFGS-B, analytic gradient), the recipe of
    Hoffmann et al. (2022) and Besiroglu et al. (2024). Both honour the law's bounds and fixed values.

Both work on the Chinchilla form only and return plain public parameters, not :class:`Fit` objects.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit, least_squares, minimize

from scalinglaw.fitting._data import as_problem
from scalinglaw.fitting.objectives import get_objective
from scalinglaw.laws import chinchilla

__all__ = ["PAPER_START", "REFERENCE_GRID", "curve_fit_paper", "multistart"]

#: The paper's starting point, (ln A, ln B, ln E, alpha, beta) (ColPret ``fitting_funcs.py``).
PAPER_START = (6.255414, 7.3049974, 0.6254804, 0.3526596, 0.3526596)

#: ColPret's 4^5 grid of starts, in the order (ln A, ln B, ln E, alpha, beta).
REFERENCE_GRID = (
    (3.0, 6.0, 9.0, 12.0),
    (3.0, 6.0, 9.0, 12.0),
    (-0.5, 0.0, 0.5, 1.0),
    (0.25, 0.5, 0.75, 1.0),
    (0.25, 0.5, 0.75, 1.0),
)

_ORDER = ("A", "B", "E", "alpha", "beta")  # the order of PAPER_START and REFERENCE_GRID
_LOGGED = (True, True, True, False, False)


def _predict(z: np.ndarray, N: np.ndarray, D: np.ndarray) -> np.ndarray:
    a, b, e, alpha, beta = z
    return np.exp(e) + np.exp(a - alpha * np.log(N)) + np.exp(b - beta * np.log(D))


def curve_fit_paper(runs: object) -> dict[str, float]:
    """The paper's fit: curve_fit from its single start (ColPret ``util/fit_utils.py::fit``).

    Raises what curve_fit raises when both methods fail (the paper then records a failed cell).
    """
    pb = as_problem(runs, ("n_params", "n_tokens"))
    N, D, y = pb.inputs["n_params"], pb.inputs["n_tokens"], pb.loss

    def f(_x: object, *z: float) -> np.ndarray:
        return _predict(np.array(z), N, D)

    bounds = ([-np.inf] * 3 + [0.0, 0.0], [np.inf] * 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        try:
            z, _ = curve_fit(f, None, y, p0=PAPER_START, bounds=bounds)
        except RuntimeError:
            z, _ = curve_fit(f, None, y, p0=PAPER_START, bounds=bounds, method="dogbox", x_scale=PAPER_START)
    return _public(z)


def _public(z: np.ndarray) -> dict[str, float]:
    return {n: float(np.exp(v) if lg else v) for n, v, lg in zip(_ORDER, z, _LOGGED, strict=True)}


def multistart(
    runs: object,
    *,
    objective: str = "lsq",
    fixed: Mapping[str, float] | None = None,
    grid: tuple = REFERENCE_GRID,
) -> tuple[dict[str, float], float]:
    """Best of a dense multi-start; returns (public parameters, objective value).

    Bounds are the Chinchilla law's (alpha, beta in [0, 5]; E, A, B > 0 through their logs).
    """
    obj = get_objective(objective)
    pb = as_problem(runs, ("n_params", "n_tokens"))
    N, D, y, w = pb.inputs["n_params"], pb.inputs["n_tokens"], pb.loss, pb.weight
    law = chinchilla()
    fixed = dict(fixed or {})
    held = np.array([n in fixed for n in _ORDER])
    held_z = np.array(
        [
            (np.log(fixed[n]) if lg else fixed[n]) if n in fixed else 0.0
            for n, lg in zip(_ORDER, _LOGGED, strict=True)
        ]
    )
    lo = np.array([-np.inf, -np.inf, -np.inf, law.param("alpha").lower, law.param("beta").lower])[~held]
    hi = np.array([np.inf, np.inf, np.inf, law.param("alpha").upper, law.param("beta").upper])[~held]
    logN, logD = np.log(N), np.log(D)

    def full(zf: np.ndarray) -> np.ndarray:
        z = held_z.copy()
        z[~held] = zf
        return z

    def terms(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b, e, alpha, beta = z
        return np.exp(e) + 0 * logN, np.exp(a - alpha * logN), np.exp(b - beta * logD)

    def value(zf: np.ndarray) -> float:
        return obj.value(sum(terms(full(zf))), y, w)

    def lsq_resid(zf: np.ndarray) -> np.ndarray:
        return np.sqrt(w) * (sum(terms(full(zf))) - y)

    def lsq_jac(zf: np.ndarray) -> np.ndarray:
        tE, tA, tB = terms(full(zf))
        cols = np.column_stack([tA, tB, tE, -logN * tA, -logD * tB])[:, ~held]
        return np.sqrt(w)[:, None] * cols

    def huber(zf: np.ndarray) -> tuple[float, np.ndarray]:
        tE, tA, tB = terms(full(zf))
        pred = tE + tA + tB
        r = np.log(pred) - np.log(y)
        dlog = np.column_stack([tA, tB, tE, -logN * tA, -logD * tB])[:, ~held] / pred[:, None]
        return float(np.dot(w, obj.rho(r))), (w * obj.psi(r)) @ dlog

    starts = [np.array(s)[~held] for s in itertools.product(*grid)]
    starts = list({tuple(s): s for s in starts}.values())  # fixed parameters collapse grid points
    best_z, best_v = None, np.inf
    for s in starts:
        s = np.clip(s, lo, hi)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if obj.delta is None:
                res = least_squares(lsq_resid, s, jac=lsq_jac, bounds=(lo, hi), method="trf")
            else:
                res = minimize(huber, s, jac=True, method="L-BFGS-B", bounds=list(zip(lo, hi, strict=True)))
        v = value(res.x)
        if v < best_v:
            best_z, best_v = res.x, v
    return _public(full(best_z)), best_v
