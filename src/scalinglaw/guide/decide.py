"""Decisions from fitted laws: which of two families is better at a target, and how to spend a FLOP budget.

>>> import scalinglaw as sl
>>> a = sl.simulate.family(seed=1, params={"E": 1.6})            # a better recipe: lower E
>>> b = sl.simulate.family(seed=2)
>>> c = sl.guide.compare(a, b, target_params=1e10, target_tokens=2e11, draws=20)
>>> c.better, c.p_a_better > 0.9
('A', True)
>>> alloc = sl.guide.allocate(sl.guide.estimate(b, draws=20), flops=1e21)
>>> round(alloc.n_tokens / alloc.n_params)                        # tokens per parameter at the optimum
13
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalinglaw.exceptions import ScalingLawError
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import defaults as D
from scalinglaw.guide.estimate import Estimate, _jsonable, estimate
from scalinglaw.guide.uncertainty import log_draws, multiplier, scale, spread

__all__ = ["Allocation", "Comparison", "allocate", "compare", "optimal_allocation"]

#: FLOPs per parameter per token of training (forward + backward), C = 6 N D (Kaplan et al. 2020).
FLOPS_PER_PARAM_TOKEN = 6.0


@dataclass(frozen=True)
class Comparison:
    """Family A against family B at one target.

    Attributes
    ----------
    loss_a, loss_b
        Point predictions (nats).
    ratio
        L_A / L_B - 1: negative when A is better (lower loss).
    intervals
        Level -> (low, high) of the ratio.
    p_a_better
        Probability that A's loss is lower, under the same calibrated error model as the intervals.
    paired
        Whether the resampling was paired (both families have the same sizes, resampled together).
    """

    names: tuple[str, str]
    n_params: float
    n_tokens: float
    loss_a: float
    loss_b: float
    ratio: float
    intervals: dict[str, tuple[float, float]]
    p_a_better: float
    paired: bool
    a: Estimate = field(repr=False)
    b: Estimate = field(repr=False)

    @property
    def better(self) -> str:
        """``"A"`` or ``"B"``: the family with the lower predicted loss."""
        return "A" if self.ratio < 0 else "B"

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "names": list(self.names),
                "n_params": self.n_params,
                "n_tokens": self.n_tokens,
                "loss_a": self.loss_a,
                "loss_b": self.loss_b,
                "ratio": self.ratio,
                "intervals": {k: list(v) for k, v in self.intervals.items()},
                "p_a_better": self.p_a_better,
                "better": self.better,
                "paired": self.paired,
                "a": self.a.to_dict(),
                "b": self.b.to_dict(),
            }
        )


def _as_estimate(x: Any, options: dict[str, Any]) -> Estimate:
    return x if isinstance(x, Estimate) else estimate(x, **options)


def compare(
    a: Any,
    b: Any,
    *,
    target_params: float,
    target_tokens: float,
    levels: tuple[float, ...] = D.LEVELS,
    names: tuple[str, str] = ("A", "B"),
    **estimate_options: Any,
) -> Comparison:
    """Which family reaches the lower loss at (target_params, target_tokens), by how much, how surely.

    ``a`` and ``b`` are runs (anything :func:`~scalinglaw.estimate` reads; fitted with the same options
    and seed) or estimates. The difference ln L_A - ln L_B is resampled draw by draw: when both families
    have the same run sizes, draw i of each refits the same resampled sizes (paired resampling), so
    what the two share (e.g. a badly behaved size) cancels. Its interval and P(A better) use the
    calibrated shape of :mod:`scalinglaw.guide.uncertainty`, with both families' run scatter and seed
    noise.
    """
    ea, eb = _as_estimate(a, estimate_options), _as_estimate(b, estimate_options)
    N, T = float(target_params), float(target_tokens)
    la, lb = float(ea.predict(N, T)), float(eb.predict(N, T))
    sizes_a = np.sort(ea.models["n_params"].to_numpy(float))
    sizes_b = np.sort(eb.models["n_params"].to_numpy(float))
    paired = bool(
        len(sizes_a) == len(sizes_b)
        and np.allclose(sizes_a, sizes_b, rtol=0.01)
        and ea.settings["seed"]["value"] == eb.settings["seed"]["value"]
        and len(ea.draws) == len(eb.draws)
    )
    ok = np.all(np.isfinite(ea.draws), axis=1) & np.all(np.isfinite(eb.draws), axis=1)
    if paired and ok.sum() > 1:
        diff = log_draws(ea.fit.law, ea.draws[ok], N, T) - log_draws(eb.fit.law, eb.draws[ok], N, T)
        sd = float(spread(diff))
    else:
        sd = math.hypot(_sd(ea, N, T), _sd(eb, N, T))
    # Each family's new run scatters around its law: the two run-level terms (each floored by the
    # seed noise, as in a single interval) add up in the difference.
    floor_a = max(ea.run_sd, float(ea.settings["seed_noise"]["value"]))
    floor_b = max(eb.run_sd, float(eb.settings["seed_noise"]["value"]))
    s = float(scale(sd, run_sd=math.hypot(floor_a, floor_b), seed_noise=0.0))
    inflation = float(ea.settings["interval_inflation"]["value"])
    df = float(ea.settings["interval_df"]["value"])
    d0 = math.log(la / lb)
    intervals = {}
    for lev in levels:
        half = multiplier(lev, inflation=inflation, df=df) * s
        intervals[f"{lev:g}"] = (math.exp(d0 - half) - 1.0, math.exp(d0 + half) - 1.0)
    from scipy import stats

    t = -d0 / (inflation * s) if s > 0 else (math.inf if d0 < 0 else -math.inf)
    p = float(stats.t.cdf(t, df) if np.isfinite(df) else stats.norm.cdf(t))
    return Comparison(names, N, T, la, lb, la / lb - 1.0, intervals, p, paired, ea, eb)


def _sd(est: Estimate, N: float, T: float) -> float:
    logs = log_draws(est.fit.law, est.draws, N, T)
    return float(spread(logs)) if len(logs) > 1 else 0.0


# ------------------------------------------------------------------------------------------ allocate


def optimal_allocation(params: dict[str, float], flops: float) -> tuple[float, float]:
    """Compute-optimal (N*, D*) of E + A / N^alpha + B / D^beta under C = 6 N D (closed form).

    Minimising A N^-alpha + B (C / 6N)^-beta over N gives N* = G (C / 6)^(beta / (alpha + beta)) with
    G = (alpha A / (beta B))^(1 / (alpha + beta)) (Hoffmann et al. 2022, Eq. 4), and D* = C / (6 N*).

    >>> n, d = optimal_allocation({"E": 1.69, "A": 406.4, "alpha": 0.34, "B": 410.7, "beta": 0.28}, 5.76e23)
    >>> f"{n:.3g} parameters, {d:.3g} tokens"      # Hoffmann et al.'s law at Gopher's budget
    '3.22e+10 parameters, 2.98e+12 tokens'
    """
    A, alpha, B, beta = params["A"], params["alpha"], params["B"], params["beta"]
    if not (A > 0 and B > 0 and alpha > 0 and beta > 0):
        raise ScalingLawError(
            "this law does not trade size for data (A, B, alpha and beta must all be > 0): "
            "no optimal allocation"
        )
    g = (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))
    n = g * (flops / FLOPS_PER_PARAM_TOKEN) ** (beta / (alpha + beta))
    return float(n), float(flops / (FLOPS_PER_PARAM_TOKEN * n))


@dataclass(frozen=True)
class Allocation:
    """The compute-optimal model for a FLOP budget, with intervals.

    Attributes
    ----------
    flops
        The budget C (FLOPs, C = 6 N D).
    n_params, n_tokens, loss
        N*, D* of the point law and its predicted loss there.
    intervals
        Level -> {"n_params": (lo, hi), "n_tokens": (lo, hi), "loss": (lo, hi)}. N* and D* intervals are
        percentiles of the bootstrap refits' optima (parameter uncertainty, not calibrated); the loss
        interval is the estimate's calibrated interval at (N*, D*).
    draws_used
        Refits with a finite optimum.
    """

    flops: float
    n_params: float
    n_tokens: float
    loss: float
    intervals: dict[str, dict[str, tuple[float, float]]]
    draws_used: int

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "flops": self.flops,
                "n_params": self.n_params,
                "n_tokens": self.n_tokens,
                "tokens_per_param": self.n_tokens / self.n_params,
                "loss": self.loss,
                "intervals": {k: {q: list(v) for q, v in d.items()} for k, d in self.intervals.items()},
                "draws_used": self.draws_used,
            }
        )


def allocate(
    est: Any, flops: float, *, levels: tuple[float, ...] = D.LEVELS, **estimate_options: Any
) -> Allocation:
    """N* and D* minimising the fitted law's loss for ``flops`` = 6 N D, with intervals.

    ``est`` is an :class:`~scalinglaw.guide.estimate.Estimate` or runs to estimate first.
    """
    if not (isinstance(flops, int | float) and math.isfinite(flops) and flops > 0):
        raise ScalingLawError(f"flops == {flops!r}, must be a positive number")
    e = _as_estimate(est, estimate_options)
    n, d = optimal_allocation(dict(e.params), float(flops))
    optima = []
    for row in e.draws:
        if not np.all(np.isfinite(row)):
            continue
        try:
            optima.append(optimal_allocation(dict(zip(fm.PARAMS, row, strict=True)), float(flops)))
        except ScalingLawError:
            continue
    opt = np.array(optima) if optima else np.empty((0, 2))
    intervals: dict[str, dict[str, tuple[float, float]]] = {}
    for lev in levels:
        lo_q, hi_q = 50 * (1 - lev), 50 * (1 + lev)
        lo, hi = e.predict_interval(n, d, level=lev)
        entry = {"loss": (float(lo), float(hi))}
        if len(opt):
            entry["n_params"] = tuple(float(x) for x in np.percentile(opt[:, 0], [lo_q, hi_q]))  # type: ignore[assignment]
            entry["n_tokens"] = tuple(float(x) for x in np.percentile(opt[:, 1], [lo_q, hi_q]))  # type: ignore[assignment]
        intervals[f"{lev:g}"] = entry
    return Allocation(float(flops), n, d, float(e.predict(n, d)), intervals, len(opt))
