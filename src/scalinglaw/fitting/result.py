"""The result of a fit: an immutable value that predicts, summarises and serialises itself."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from scalinglaw.laws import Law, get_law

__all__ = ["STATUSES", "Fit"]

#: Machine-readable outcomes of a fit.
STATUSES = {
    "ok": "converged to the optimum the solver found",
    "failed": "the solver did not converge; parameters are its best attempt or NaN",
    "too_few_points": "fewer usable points than free parameters",
}


@dataclass(frozen=True)
class Fit:
    """A fitted law.

    Attributes
    ----------
    law
        The law fitted, with its bounds and fixed values.
    objective
        ``"lsq"`` or ``"huber_log"`` (see :mod:`scalinglaw.fitting.objectives`).
    params
        Public parameter values (fixed ones included), e.g. ``{"E": ..., "A": ..., ...}``.
    value
        The objective reached (a weighted sum over points).
    status, message
        One of :data:`STATUSES` and a human-readable reason.
    n_points, n_models
        Points fitted (rows with positive weight) and distinct models among them.
    at_bound
        Free parameters that ended on a bound (they may be unidentified, e.g. alpha when A = 0).
    notes
        Diagnostics worth a user's attention (identifiability, solver details).
    solver
        ``"varpro"`` (separable laws) or ``"multistart"``.
    """

    law: Law
    objective: str
    params: Mapping[str, float]
    value: float
    status: str
    message: str = ""
    n_points: int = 0
    n_models: int = 0
    at_bound: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    solver: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def success(self) -> bool:
        """True when :attr:`status` is ``"ok"``."""
        return self.status == "ok"

    def predict(self, n_params: Any = None, n_tokens: Any = None, **inputs: Any) -> np.ndarray:
        """Predicted loss (nats) at the given inputs, with numpy broadcasting.

        >>> import scalinglaw as sl
        >>> fit = sl.fit(sl.simulate.family(seed=0), law="chinchilla")
        >>> fit.predict(n_params=7e9, n_tokens=2e12).shape
        ()
        """
        if n_params is not None:
            inputs["n_params"] = n_params
        if n_tokens is not None:
            inputs["n_tokens"] = n_tokens
        return self.law.predict(self.params, **inputs)

    def summary(self) -> str:
        """A fixed-section text report: law, objective, data, parameters, outcome."""
        lines = [
            f"Law        {self.law.name}: L = {self.law.formula}",
            f"Objective  {self.objective} = {self.value:.6g}",
            f"Data       {self.n_points} points, {self.n_models} models",
            f"Status     {self.status}" + (f": {self.message}" if self.message else ""),
            f"Solver     {self.solver}",
            "Parameters",
        ]
        for p in self.law.params:
            flag = "fixed" if p.fixed else ("at bound" if p.name in self.at_bound else "free")
            lines.append(f"  {p.name:<8} {self.params[p.name]:>14.6g}   {flag:<8} [{p.lower:g}, {p.upper:g}]")
        lines += [f"Note       {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; :meth:`from_dict` rebuilds an equal fit (built-in laws only)."""
        return {
            "law": self.law.name,
            "objective": self.objective,
            "params": {k: _jsonable(v) for k, v in self.params.items()},
            "bounds": {p.name: [_jsonable(p.lower), _jsonable(p.upper)] for p in self.law.params},
            "fixed": sorted(self.law.fixed),
            "value": _jsonable(self.value),
            "status": self.status,
            "message": self.message,
            "n_points": self.n_points,
            "n_models": self.n_models,
            "at_bound": list(self.at_bound),
            "notes": list(self.notes),
            "solver": self.solver,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Fit:
        """Rebuild a fit written by :meth:`to_dict`."""
        law = get_law(d["law"])
        law = law.bound(**{k: tuple(_float(x) for x in v) for k, v in d["bounds"].items()})
        law = law.start(**{k: _float(v) for k, v in d["params"].items() if math.isfinite(_float(v))})
        if d["fixed"]:
            law = law.fix(**dict.fromkeys(d["fixed"]))
        return cls(
            law=law,
            objective=d["objective"],
            params={k: _float(v) for k, v in d["params"].items()},
            value=_float(d["value"]),
            status=d["status"],
            message=d["message"],
            n_points=d["n_points"],
            n_models=d["n_models"],
            at_bound=tuple(d["at_bound"]),
            notes=tuple(d["notes"]),
            solver=d["solver"],
        )


def _jsonable(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)  # JSON has no inf/nan; "inf" / "nan" round-trip through float()


def _float(x: float | str) -> float:
    return float(x)
