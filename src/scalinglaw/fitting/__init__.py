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

from scalinglaw.exceptions import DataError
from scalinglaw.fitting import _multistart, _varpro
from scalinglaw.fitting._data import Problem, as_problem
from scalinglaw.fitting._flat import flatten, flatten_subsets
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
    table: tuple[Problem, list[np.ndarray]] | None = None
    if subsets is not None:
        whole = as_problem(runs, law.inputs)
        weights = _subset_weights(whole, subsets)
        table = (whole, weights)
        problems = [
            _usable(Problem(whole.inputs, whole.loss, w, whole.n_models, whole.model_keys)) for w in weights
        ]
    else:
        where = _where or [f"runs[{i}]" for i in range(len(runs))]
        problems = [_usable(as_problem(r, law.inputs, where=w)) for r, w in zip(runs, where, strict=True)]
    n_free = len(law.free)
    fits: list[Fit | None] = [None] * len(problems)
    todo = []
    for i, pb in enumerate(problems):
        if len(pb.loss) < max(n_free, 1):
            fits[i] = _failed(
                law, obj, pb, "too_few_points", f"{len(pb.loss)} points for {n_free} free parameters"
            )
        else:
            todo.append(i)
    if todo:
        shared = None if table is None else (table[0], [table[1][i] for i in todo])
        solved = _solve(law, obj, [problems[i] for i in todo], shared)
        for i, f in zip(todo, solved, strict=True):
            fits[i] = f
    return fits  # type: ignore[return-value]


def _subset_weights(table: Problem, subsets: Sequence[Any]) -> list[np.ndarray]:
    """Each subset as point weights on the table (a row listed twice weighs twice)."""
    n = len(table.loss)
    out = []
    for i, sel in enumerate(subsets):
        sel = np.asarray(sel)
        if sel.dtype == bool:
            if sel.shape != (n,):
                raise DataError(f"subsets[{i}]: a boolean mask needs {n} entries, got {sel.shape[0]}")
            weight = table.weight * sel
        else:
            if sel.size and (sel.min() < 0 or sel.max() >= n or not np.issubdtype(sel.dtype, np.integer)):
                raise DataError(f"subsets[{i}]: row positions must be integers in [0, {n})")
            weight = table.weight * np.bincount(sel.astype(np.int64), minlength=n)
        out.append(weight)
    return out


def _usable(pb: Problem) -> Problem:
    """Only the points with positive weight, and the number of models among them."""
    keep = pb.weight > 0
    if keep.all():
        return pb
    keys = None if pb.model_keys is None else pb.model_keys[keep]
    # keys are codes >= -1 (pandas codes a missing model -1): count the distinct ones without a sort
    n_models = pb.n_models if keys is None else int(np.count_nonzero(np.bincount(keys + 1)))
    return Problem({k: v[keep] for k, v in pb.inputs.items()}, pb.loss[keep], pb.weight[keep], n_models, keys)


def _failed(law: Law, obj: Objective, pb: Problem, status: str, message: str) -> Fit:
    params = {n: (law.param(n).start if law.param(n).fixed else np.nan) for n in law.names}
    return Fit(law, obj.name, params, np.nan, status, message, len(pb.loss), pb.n_models, solver="")


def _solve(
    law: Law, obj: Objective, problems: list[Problem], shared: tuple[Problem, list[np.ndarray]] | None
) -> list[Fit]:
    if law.separable is not None:
        return _solve_varpro(law, obj, problems, shared)
    solved = _multistart.solve(law, obj, problems)
    return [
        _finish(law, obj, pb, params, conv, "multistart")
        for pb, (params, conv) in zip(problems, solved, strict=True)
    ]


def _solve_varpro(
    law: Law, obj: Objective, problems: list[Problem], shared: tuple[Problem, list[np.ndarray]] | None
) -> list[Fit]:
    sep = law.separable
    assert sep is not None
    spec = _varpro.Spec.from_law(law)
    if shared is not None:  # subsets of one table: the grid works on its distinct rows
        table, weights = shared
        flat = flatten_subsets(table.inputs[sep.x1], table.inputs[sep.x2], table.loss, weights)
    else:
        flat = flatten(
            [p.inputs[sep.x1] for p in problems],
            [p.inputs[sep.x2] for p in problems],
            [p.loss for p in problems],
            [p.weight for p in problems],
        )
    sol = _varpro.solve(flat, spec) if obj.delta is None else _varpro.solve_huber(flat, spec, obj)
    out = []
    for k, pb in enumerate(problems):
        params = dict(zip(spec.names, sol.params[k], strict=True))
        out.append(_finish(law, obj, pb, params, bool(sol.converged[k]), "varpro"))
    return out


def _finish(
    law: Law, obj: Objective, pb: Problem, params: dict[str, float], converged: bool, solver: str
) -> Fit:
    """Build the Fit: exact objective, bound flags, status and notes."""
    # held parameters are returned exactly as given (internal rescaling could move their last bit)
    values = {p.name: p.start if p.fixed else float(params[p.name]) for p in law.params}
    if not all(np.isfinite(v) for v in values.values()):
        return Fit(
            law,
            obj.name,
            values,
            np.nan,
            "failed",
            "no feasible solution",
            len(pb.loss),
            pb.n_models,
            solver=solver,
        )
    pred = law.predict(values, **pb.inputs)
    value = obj.value(pred, pb.loss, pb.weight)
    at_bound = tuple(
        p.name for p in law.params if not p.fixed and (values[p.name] <= p.lower or values[p.name] >= p.upper)
    )
    notes = []
    if pb.n_models < 2 and law.separable is not None:
        notes.append(
            "all points share one model size: the size term (A, alpha) is not identifiable apart from E"
        )
    status, message = (
        ("ok", "") if converged and np.isfinite(value) else ("failed", "the polish did not converge")
    )
    return Fit(
        law,
        obj.name,
        values,
        value,
        status,
        message,
        len(pb.loss),
        pb.n_models,
        at_bound,
        tuple(notes),
        solver,
    )
