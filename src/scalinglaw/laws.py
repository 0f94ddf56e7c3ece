"""Scaling laws as immutable values: named parameters with bounds, starting values and a fixed flag.

A :class:`Law` is a functional form plus its parameters. Every change returns a new law::

    >>> import scalinglaw as sl
    >>> law = sl.laws.chinchilla().fix(A=520.8, alpha=0.3527).bound(beta=(0, 2))
    >>> law.free
    ('E', 'B', 'beta')
    >>> law.fixed
    {'A': 520.8, 'alpha': 0.3527}

Forms
-----
``chinchilla``
    L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022, Eq. 2; the form of every fit in
    Choshen et al. 2024). Starting values are Muennighoff et al. (2024)'s C4 fit, the paper's ``p0``.
``kaplan``
    L(N, D) = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D (Kaplan et al. 2020, Eq. 1.5), starting
    from Kaplan's published constants.
``data_constrained``
    Muennighoff et al. (2024)'s law for repeated data: the Chinchilla form evaluated at the effective
    parameters N' and tokens D' that discount repeated epochs (needs a ``unique_tokens`` column).

How a form meets the solver
---------------------------
A form is its prediction function, its input columns, its parameters (names, bounds, starts) and,
optionally, a :class:`Separable` structure. A law with that structure (E + A / N^alpha + B / D^beta,
any subset fixed) is solved by variable projection, exactly and fast; any other form goes through the
batched multi-start solver, so a new form needs no change to the solver. The solver also needs, per
parameter, the scale it searches on (:attr:`Param.log_scale`: log for positive scale constants such as
A or N_c, linear for exponents) and a few values to start from (:attr:`Param.grid`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from scalinglaw.exceptions import LawError

__all__ = [
    "KAPLAN_2020",
    "MUENNIGHOFF_2024",
    "Law",
    "Param",
    "Separable",
    "available_laws",
    "chinchilla",
    "data_constrained",
    "get_law",
    "kaplan",
]

#: Muennighoff et al. (2024), C4 fit of the Chinchilla form; the starting point of every fit in
#: Choshen et al. (2024) (their ``p0`` = ln A, ln B, ln E, alpha, beta = 6.255414, 7.3049974,
#: 0.6254804, 0.3526596, 0.3526596) and the fixed (A, alpha) of their single-model fits (paper §5).
MUENNIGHOFF_2024 = {
    "E": math.exp(0.6254804),
    "A": math.exp(6.255414),
    "alpha": 0.3526596,
    "B": math.exp(7.3049974),
    "beta": 0.3526596,
}

#: Kaplan et al. (2020), Eq. 1.5 and Table 1 (N non-embedding parameters, D tokens, loss in nats).
KAPLAN_2020 = {"N_c": 8.8e13, "D_c": 5.4e13, "alpha_N": 0.076, "alpha_D": 0.095}

#: Upper bound on exponents: keeps the search in a numerically sane region, not a belief about
#: scaling. The paper reports one family with beta > 4 (a 70M Pythia baseline, §9).
MAX_EXPONENT = 5.0


@dataclass(frozen=True)
class Param:
    """One parameter of a law.

    Parameters
    ----------
    name
        Public name, e.g. ``"alpha"``.
    start
        Starting value; the value it is held at when ``fixed``.
    lower, upper
        Bounds on the public value (inclusive).
    fixed
        Held at ``start`` instead of fitted.
    log_scale
        Searched on a log scale (positive scale constants) rather than a linear one (exponents).
    grid
        Values the multi-start solver starts from (public scale); empty means just ``start``.
    description
        What the parameter means, with its unit.
    """

    name: str
    start: float
    lower: float = -math.inf
    upper: float = math.inf
    fixed: bool = False
    log_scale: bool = False
    grid: tuple[float, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if not self.lower <= self.upper:
            raise LawError(
                f"parameter {self.name!r}: lower bound {self.lower} exceeds upper bound {self.upper}"
            )
        if not math.isfinite(self.start):
            raise LawError(f"parameter {self.name!r}: value {self.start} is not finite")
        if not self.lower <= self.start <= self.upper:
            raise LawError(
                f"parameter {self.name!r}: value {self.start} lies outside its bounds "
                f"[{self.lower}, {self.upper}]"
            )
        if self.log_scale and self.lower < 0:
            raise LawError(
                f"parameter {self.name!r} is searched on a log scale, so its lower bound must be >= 0"
            )

    def __repr__(self) -> str:
        state = "fixed" if self.fixed else f"bounds=[{self.lower:g}, {self.upper:g}]"
        return f"<Param {self.name!r}, value={self.start:g} ({state})>"


@dataclass(frozen=True)
class Separable:
    """The structure E + A / X1^alpha + B / X2^beta that the variable-projection solver exploits.

    For fixed exponents the prediction is linear in (E, A, B), so the solver searches the exponents
    only and solves for the constants exactly. ``x1`` should be the input with few distinct values
    per fit (model size): the solver evaluates its term once per distinct value.
    """

    constant: str = "E"
    coef1: str = "A"
    exponent1: str = "alpha"
    x1: str = "n_params"
    coef2: str = "B"
    exponent2: str = "beta"
    x2: str = "n_tokens"


Predictor = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Law:
    """A functional form with its parameters; immutable.

    Use :meth:`fix`, :meth:`bound` and :meth:`start` to derive variants, :meth:`predict` to evaluate.
    """

    name: str
    formula: str
    params: tuple[Param, ...]
    inputs: tuple[str, ...]
    function: Predictor = field(repr=False, compare=False)
    separable: Separable | None = field(default=None, repr=False)
    reference: str = ""

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise LawError(f"law {self.name!r} has duplicate parameter names: {names}")

    # -- inspection ---------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """All parameter names, in order."""
        return tuple(p.name for p in self.params)

    @property
    def free(self) -> tuple[str, ...]:
        """Names of the parameters that are fitted."""
        return tuple(p.name for p in self.params if not p.fixed)

    @property
    def fixed(self) -> dict[str, float]:
        """Held parameters and their values."""
        return {p.name: p.start for p in self.params if p.fixed}

    @property
    def starts(self) -> dict[str, float]:
        """Starting (or fixed) value of every parameter."""
        return {p.name: p.start for p in self.params}

    def param(self, name: str) -> Param:
        """The :class:`Param` called ``name``."""
        for p in self.params:
            if p.name == name:
                return p
        raise LawError(self._unknown(name))

    # -- derivation ---------------------------------------------------------------------------
    def fix(self, **values: float | None) -> Law:
        """Hold parameters at the given values (``None``: at their current starting value).

        >>> chinchilla().fix(A=520.8, alpha=0.3527).free
        ('E', 'B', 'beta')
        """
        return self._with(
            values, lambda p, v: replace(p, fixed=True, start=p.start if v is None else float(v))
        )

    def release(self, *names: str) -> Law:
        """Fit parameters that were held; with no names, release all."""
        chosen = names or self.names
        return self._with(dict.fromkeys(chosen), lambda p, _: replace(p, fixed=False))

    def bound(self, **ranges: tuple[float | None, float | None]) -> Law:
        """Set bounds ``name=(lower, upper)``; ``None`` keeps that side as it is.

        >>> chinchilla().bound(beta=(0, 2)).param("beta").upper
        2.0
        """

        def set_bounds(p: Param, r: tuple[float | None, float | None]) -> Param:
            try:
                lo, hi = r
            except (TypeError, ValueError):
                raise LawError(f"bounds for {p.name!r} must be a (lower, upper) pair, got {r!r}") from None
            lo = p.lower if lo is None else float(lo)
            hi = p.upper if hi is None else float(hi)
            start = min(max(p.start, lo), hi) if not p.fixed else p.start
            return replace(p, lower=lo, upper=hi, start=start)

        return self._with(ranges, set_bounds)

    def start(self, **values: float) -> Law:
        """Set starting values (the value a fixed parameter is held at)."""
        return self._with(values, lambda p, v: replace(p, start=float(v)))

    def _with(self, updates: Mapping[str, Any], change: Callable[[Param, Any], Param]) -> Law:
        unknown = [n for n in updates if n not in self.names]
        if unknown:
            raise LawError(self._unknown(unknown[0]))
        params = tuple(change(p, updates[p.name]) if p.name in updates else p for p in self.params)
        return replace(self, params=params)

    def _unknown(self, name: str) -> str:
        hint = difflib.get_close_matches(name, self.names, n=1)
        tip = f" Did you mean {hint[0]!r}?" if hint else ""
        return (
            f"law {self.name!r} has no parameter {name!r}; its parameters are {', '.join(self.names)}.{tip}"
        )

    # -- evaluation ---------------------------------------------------------------------------
    def predict(self, params: Mapping[str, float] | None = None, /, **inputs: Any) -> np.ndarray:
        """Evaluate the law at ``inputs`` (numpy broadcasting), with ``params`` or the starting values.

        >>> float(chinchilla().predict(n_params=7e9, n_tokens=2e12))  # Muennighoff et al.'s law
        2.11...
        """
        values = dict(self.starts)
        if params is not None:
            values.update({k: params[k] for k in self.names})
        missing = [c for c in self.inputs if c not in inputs]
        if missing:
            raise LawError(
                f"law {self.name!r} needs inputs {', '.join(self.inputs)}; missing {', '.join(missing)}"
            )
        X = {c: np.asarray(inputs[c], dtype=float) for c in self.inputs}
        return self.function(values, X)

    def __repr__(self) -> str:
        parts = []
        for p in self.params:
            parts.append(f"{p.name}={p.start:g}" + (" (fixed)" if p.fixed else ""))
        return f"<Law {self.name!r}: {self.formula}; {', '.join(parts)}>"


# -- the forms ---------------------------------------------------------------------------------


def _chinchilla(p: Mapping[str, Any], X: Mapping[str, np.ndarray]) -> np.ndarray:
    return p["E"] + p["A"] * X["n_params"] ** -p["alpha"] + p["B"] * X["n_tokens"] ** -p["beta"]


def _exponent(name: str, start: float, description: str) -> Param:
    return Param(name, start, 0.0, MAX_EXPONENT, grid=(0.25, 0.5, 0.75, 1.0), description=description)


def _scale(name: str, start: float, grid: tuple[float, ...], description: str) -> Param:
    return Param(name, start, 0.0, math.inf, log_scale=True, grid=grid, description=description)


def chinchilla() -> Law:
    """L(N, D) = E + A / N^alpha + B / D^beta (Hoffmann et al. 2022), in nats.

    Starts at Muennighoff et al. (2024)'s fit (:data:`MUENNIGHOFF_2024`). E, A, B >= 0 and
    0 <= alpha, beta <= 5. Solved by variable projection (see :mod:`scalinglaw.fitting`).
    The multi-start grid is the one of Choshen et al.'s L-BFGS variant: ln A, ln B in {3, 6, 9, 12},
    ln E in {-0.5, 0, 0.5, 1}, alpha, beta in {0.25, 0.5, 0.75, 1}.
    """
    m = MUENNIGHOFF_2024
    exps = tuple(math.exp(v) for v in (3.0, 6.0, 9.0, 12.0))
    return Law(
        name="chinchilla",
        formula="E + A / N^alpha + B / D^beta",
        params=(
            _scale("E", m["E"], tuple(math.exp(v) for v in (-0.5, 0.0, 0.5, 1.0)), "irreducible loss (nats)"),
            _scale("A", m["A"], exps, "size coefficient (nats x params^alpha)"),
            _exponent("alpha", m["alpha"], "size exponent"),
            _scale("B", m["B"], exps, "data coefficient (nats x tokens^beta)"),
            _exponent("beta", m["beta"], "data exponent"),
        ),
        inputs=("n_params", "n_tokens"),
        function=_chinchilla,
        separable=Separable(),
        reference="Hoffmann et al. 2022 (form); Muennighoff et al. 2024 (starting values)",
    )


def _kaplan(p: Mapping[str, Any], X: Mapping[str, np.ndarray]) -> np.ndarray:
    ratio = p["alpha_N"] / p["alpha_D"]
    return ((p["N_c"] / X["n_params"]) ** ratio + p["D_c"] / X["n_tokens"]) ** p["alpha_D"]


def kaplan() -> Law:
    """L(N, D) = ((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D (Kaplan et al. 2020, Eq. 1.5), nats.

    No irreducible term. Starts at Kaplan et al.'s constants (:data:`KAPLAN_2020`); exponents in
    (0, 5]. Solved by the batched multi-start solver.
    """
    k = KAPLAN_2020
    return Law(
        name="kaplan",
        formula="((N_c / N)^(alpha_N / alpha_D) + D_c / D)^alpha_D",
        params=(
            _scale("N_c", k["N_c"], (1e10, 1e13, 1e16), "critical model size (params)"),
            _scale("D_c", k["D_c"], (1e10, 1e13, 1e16), "critical data size (tokens)"),
            Param(
                "alpha_N",
                k["alpha_N"],
                1e-3,
                MAX_EXPONENT,
                grid=(0.05, 0.1, 0.3),
                description="size exponent",
            ),
            Param(
                "alpha_D",
                k["alpha_D"],
                1e-3,
                MAX_EXPONENT,
                grid=(0.05, 0.1, 0.3),
                description="data exponent",
            ),
        ),
        inputs=("n_params", "n_tokens"),
        function=_kaplan,
        reference="Kaplan et al. 2020, Eq. 1.5",
    )


def _effective(size: np.ndarray, unique: np.ndarray, r_star: Any) -> np.ndarray:
    # Muennighoff et al. (2024), Eq. 5-6: repeated units are worth less, with decay constant R*.
    repeats = np.maximum(size / unique - 1.0, 0.0)
    return unique + unique * r_star * (1.0 - np.exp(-repeats / r_star))


def _data_constrained(p: Mapping[str, Any], X: Mapping[str, np.ndarray]) -> np.ndarray:
    D, N, U_D = X["n_tokens"], X["n_params"], X["unique_tokens"]
    # Unique parameters: the Chinchilla-optimal size for the unique tokens (Muennighoff et al., Eq. 7,
    # with their 20 tokens per parameter), never more than the actual size.
    U_N = np.minimum(N, U_D / 20.0)
    D_eff = _effective(D, U_D, p["R_D"])
    N_eff = _effective(N, U_N, p["R_N"])
    return p["E"] + p["A"] * N_eff ** -p["alpha"] + p["B"] * D_eff ** -p["beta"]


def data_constrained() -> Law:
    """Muennighoff et al. (2024)'s law for repeated data: L = E + A / N'^alpha + B / D'^beta.

    D' = U_D + U_D R_D (1 - exp(-(D / U_D - 1) / R_D)) discounts tokens seen more than once, and N'
    likewise discounts parameters beyond the Chinchilla-optimal size for the unique data. Needs a
    ``unique_tokens`` input (tokens in one epoch). Starts at their C4 fit (R_D* = 15.39,
    R_N* = 5.31). Solved by the batched multi-start solver.
    """
    m = MUENNIGHOFF_2024
    base = chinchilla()
    return Law(
        name="data_constrained",
        formula="E + A / N'^alpha + B / D'^beta, with N', D' discounting repetition",
        params=(
            *base.params,
            Param(
                "R_D", 15.387756, 1e-3, 1e4, log_scale=True, grid=(5.0, 15.0, 50.0), description="data decay"
            ),
            Param(
                "R_N", 5.309743, 1e-3, 1e4, log_scale=True, grid=(2.0, 5.0, 20.0), description="size decay"
            ),
        ),
        inputs=("n_params", "n_tokens", "unique_tokens"),
        function=_data_constrained,
        reference="Muennighoff et al. 2024, Eq. 5-7",
    ).start(**{k: m[k] for k in ("E", "A", "alpha", "B", "beta")})


_LAWS: dict[str, Callable[[], Law]] = {
    "chinchilla": chinchilla,
    "kaplan": kaplan,
    "data_constrained": data_constrained,
}


def available_laws() -> dict[str, str]:
    """Name -> formula of every built-in law.

    >>> available_laws()["chinchilla"]
    'E + A / N^alpha + B / D^beta'
    """
    return {name: make().formula for name, make in _LAWS.items()}


def get_law(law: str | Law) -> Law:
    """The built-in law called ``law`` (a :class:`Law` passes through)."""
    if isinstance(law, Law):
        return law
    if not isinstance(law, str):
        raise LawError(f"law must be a name or a Law, got {type(law).__name__}")
    try:
        return _LAWS[law]()
    except KeyError:
        hint = difflib.get_close_matches(law, _LAWS, n=1)
        tip = f" Did you mean {hint[0]!r}?" if hint else ""
        raise LawError(f"unknown law {law!r}. Available: {', '.join(_LAWS)}.{tip}") from None
