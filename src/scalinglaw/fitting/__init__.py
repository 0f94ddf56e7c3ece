"""Fit scaling laws: one at a time or thousands at once, to the global optimum of the objective.

>>> import scalinglaw as sl
>>> runs = sl.simulate.family(seed=0)              # synthetic runs from a known law
>>> fit = sl.fit(runs, law="chinchilla")
>>> round(fit.params["alpha"], 2), round(fit.params["beta"], 2)
(0.32, 0.36)

Solvers
-------
Separable laws (E + A / N^alpha + B / D^beta, with any parameters fixed) are solved by variable
projection (:mod:`scalinglaw.fitting._varpro`): a dense grid over the exponents with the linear
parameters solved exactly in every cell, then a Newton polish of the best basins. For
``huber_log`` the grid screens the log-space least-squares surrogate and the polish minimises the exact
Huber objective by a bounded Newton method (:mod:`scalinglaw.fitting._newton`). Other laws go through a
batched multi-start Levenberg-Marquardt from a grid of starts (:mod:`scalinglaw.fitting._multistart`).
Every path is vectorised across the fits of a batch, deterministic, and reports the objective it
reached, recomputed exactly from the returned parameters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scalinglaw.fitting import _huber, _multistart, _varpro
from scalinglaw.fitting._data import Batch, as_problem
from scalinglaw.fitting._flat import flatten
from scalinglaw.fitting.objectives import HUBER_DELTA, OBJECTIVES, Objective, get_objective
from scalinglaw.fitting.result import STATUSES, Fit
from scalinglaw.laws import Law, get_law

__all__ = ["HUBER_DELTA", "OBJECTIVES", "STATUSES", "Fit", "fit", "fit_many"]


def fit(
    runs: Any,
    law: str | Law = "chinchilla",
    *,
    objective: str = "lsq",
    fixed: Mapping[str, float] | None = None,
) -> Fit:
    """Fit ``law`` to ``runs`` by minimising ``objective`` globally.

    Parameters
    ----------
    runs
        DataFrame with the law's inputs (``n_params``, ``n_tokens``) and ``loss`` (nats), one row per
        point (a checkpoint or a final run); optional ``model`` (counts models) and ``weight``
        (non-negative point weights, e.g. bootstrap counts).
    law
        A law name (see :func:`scalinglaw.laws.available_laws`) or a :class:`~scalinglaw.laws.Law`.
    objective
        ``"lsq"`` (the paper's squared error in nats) or ``"huber_log"`` (Hoffmann et al.'s Huber loss,
        delta = 1e-3, on log-loss residuals); see :mod:`scalinglaw.fitting.objectives`.
    fixed
        Parameters to hold, ``{"A": 520.8, "alpha": 0.3527}``; shorthand for ``law.fix(...)``.

    Returns
    -------
    Fit
        Check :attr:`Fit.status`: a fit that cannot be done (too few points) or did not converge comes
        back with a status and a message, not an exception.

    Raises
    ------
    DataError
        ``runs`` lacks a column or has non-numeric, non-finite or non-positive values (the message
        names the column and rows).
    LawError
        Unknown law, objective or parameter.
    """
    return fit_many([runs], law, objective=objective, fixed=fixed, _where=("runs",))[0]


def fit_many(
    runs: Any,
    law: str | Law = "chinchilla",
    *,
    objective: str = "lsq",
    fixed: Mapping[str, float] | None = None,
    subsets: Sequence[Any] | None = None,
    _where: Sequence[str] | None = None,
) -> list[Fit]:
    """Fit ``law`` to each table in ``runs``; the same as ``[fit(r, ...) for r in runs]``, batched.

    All fits share the solver's work (one grid evaluation and one polish loop for the whole batch), so
    thousands of fits cost little more than a few. Bad input raises :class:`~scalinglaw.DataError`
    naming the table (``runs[3]: column 'loss' ...``); a fit that cannot be done comes back as a
    :class:`Fit` with a status, never as an exception.

    With ``subsets``, ``runs`` is one table and each subset selects the rows of one fit: a boolean mask
    or an array of row positions (a position listed twice counts twice, as in a bootstrap). The table
    is checked once, which is how the protocol fits its grids.
    """
    law = get_law(law)
    if fixed:
        law = law.fix(**fixed)
    obj = get_objective(objective)
    if subsets is None and len(runs) == 0:
        return []
    if subsets is not None:
        batch = Batch.of_subsets(as_problem(runs, law.inputs), subsets)
    else:
        where = _where or [f"runs[{i}]" for i in range(len(runs))]
        tables = [as_problem(r, law.inputs, where=w) for r, w in zip(runs, where, strict=True)]
        batch = Batch.of_tables(tables)
    n_free = len(law.free)
    enough = batch.n_points >= max(n_free, 1)
    params = np.full((batch.n_fits, len(law.names)), np.nan)
    converged = np.zeros(batch.n_fits, bool)
    solver = ""
    if enough.any():
        solver = "varpro" if law.separable is not None else "multistart"
        params[enough], converged[enough] = _solve(law, obj, batch.only(np.flatnonzero(enough)))
    fits = _finish(law, obj, batch, params, converged, solver)
    for k in np.flatnonzero(~enough):
        fits[k] = _failed(
            law, obj, batch, k, "too_few_points", f"{batch.n_points[k]} points for {n_free} free parameters"
        )
    return fits


def _failed(law: Law, obj: Objective, batch: Batch, k: int, status: str, message: str) -> Fit:
    params = {n: (law.param(n).start if law.param(n).fixed else np.nan) for n in law.names}
    return Fit(law, obj.name, params, np.nan, status, message, int(batch.n_points[k]), int(batch.n_models[k]))


def _solve(law: Law, obj: Objective, batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    """(K, parameters in the law's order) and converged (K,) for every fit of the batch."""
    sep = law.separable
    if sep is None:
        solved = _multistart.solve(law, obj, [batch.problem(k) for k in range(batch.n_fits)])
        params = np.array([[p[n] for n in law.names] for p, _ in solved], dtype=float)
        return params, np.array([conv for _, conv in solved], bool)
    spec = _varpro.Spec.from_law(law)
    flat = flatten(batch, sep.x1, sep.x2, merge=obj.delta is None)  # (Huber's residuals are per row)
    sol = _varpro.solve(flat, spec) if obj.delta is None else _huber.solve_huber(flat, spec, obj)
    columns = [spec.names.index(n) for n in law.names]
    return sol.params[:, columns], sol.converged


def _finish(
    law: Law, obj: Objective, batch: Batch, params: np.ndarray, converged: np.ndarray, solver: str
) -> list[Fit]:
    """Every fit's Fit: the objective recomputed exactly from the parameters, bound flags, status, notes."""
    # held parameters are returned exactly as given (internal rescaling could move their last bit)
    for i, p in enumerate(law.params):
        if p.fixed:
            params[:, i] = p.start
    feasible = np.isfinite(params).all(axis=1)
    value = _objective_values(
        law, obj, batch, np.where(feasible[:, None], params, [law.starts[n] for n in law.names])
    )
    lower, upper = np.array([p.lower for p in law.params]), np.array([p.upper for p in law.params])
    free = np.array([not p.fixed for p in law.params])
    on_bound = free & ((params <= lower) | (params >= upper))
    sizes = _distinct_sizes(law, batch)
    fits = []
    for k in range(batch.n_fits):
        values = dict(zip(law.names, params[k].tolist(), strict=True))
        common = (int(batch.n_points[k]), int(batch.n_models[k]))
        if not feasible[k]:
            fits.append(
                Fit(law, obj.name, values, np.nan, "failed", "no feasible solution", *common, solver=solver)
            )
            continue
        ok = converged[k] and np.isfinite(value[k])
        status, message = ("ok", "") if ok else ("failed", "the polish did not converge")
        at_bound = tuple(n for n, b in zip(law.names, on_bound[k], strict=True) if b)
        notes = _identification_notes(law, int(sizes[k]), at_bound)
        fits.append(
            Fit(law, obj.name, values, float(value[k]), status, message, *common, at_bound, notes, solver)
        )
    return fits


def _distinct_sizes(law: Law, batch: Batch) -> np.ndarray:
    """(K,) distinct values of a separable law's size input among each fit's points (0 for other laws)."""
    if law.separable is None:
        return np.zeros(batch.n_fits, int)
    return np.bincount(batch.fit[batch.first_of_value(law.separable.x1)], minlength=batch.n_fits)


def _identification_notes(law: Law, n_sizes: int, at_bound: tuple[str, ...]) -> tuple[str, ...]:
    """What the data cannot tell apart in a separable law's size term, for a fit on ``n_sizes`` sizes."""
    sep = law.separable
    if sep is None:
        return ()
    E, A, alpha = sep.constant, sep.coef1, sep.exponent1
    if n_sizes < 2:
        return (
            f"all points share one model size: the size term ({A}, {alpha}) is not identifiable "
            f"apart from {E}",
        )
    held = {n for n in (E, A, alpha) if law.param(n).fixed}
    # (E on its bound does not pin them: moving alpha one way moves E off it)
    if n_sizes == 2 and not held and A not in at_bound:
        return (
            f"two model sizes: {E} + {A} / N^{alpha} takes two values, so {E}, {A} and {alpha} are not "
            f"identified apart (equally good fits lie along a valley) and predictions at other sizes rest on "
            f"where the solver stopped; hold ({A}, {alpha}) or {E} (fixed=...) to pin them",
        )
    return ()


def _objective_values(law: Law, obj: Objective, batch: Batch, params: np.ndarray) -> np.ndarray:
    """(K,) each fit's objective at its parameters (K, law's order), inf where a prediction is invalid."""
    columns = dict(zip(law.names, np.repeat(params.T, batch.n_points, axis=1), strict=True))  # (by fit)
    pred = law.predict(columns, **{c: batch.column(c) for c in law.inputs})
    r = obj.residual(pred, batch.column("loss"))
    valid = np.isfinite(r)
    total, invalid = batch.fit_sum(np.stack([batch.weight * obj.rho(np.where(valid, r, 0.0)), ~valid]))
    return np.where(invalid > 0, np.inf, total)
