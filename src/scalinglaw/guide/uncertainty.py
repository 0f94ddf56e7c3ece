"""Honest intervals: resample whole runs, add the seed-noise floor, inflate by the collection's calibration.

The predictive interval for the loss of a new run at (N, D) is, on the log scale,

    ln L_hat(N, D)  +/-  k * t_{nu, (1 + level) / 2} * sqrt(s_boot^2 + max(s_run, s_seed)^2)

- ``s_boot``: the spread of ln L_hat over refits on bootstrap resamples of whole runs (a run's
  checkpoints are correlated, so they are resampled together): half the distance between the 16th and
  84th percentiles, which is the standard deviation for normal draws but is not blown up by the few
  refits that a resample leaves barely determined. Each resample is refitted the way the
  point estimate was, with what it can identify: a resample left with two sizes borrows the
  three-degree-of-freedom structure, one with one size the (A, alpha) of a random collection family
  (see :mod:`scalinglaw.guide.borrow`), so few models give wide intervals.
- ``s_run``: the scatter of whole runs around the law (standard deviation over runs of each run's mean
  log residual; 0 with fewer than three runs): how far the new run may sit from the law.
- ``s_seed``: the seed-noise floor under it, :data:`~scalinglaw.guide.defaults.SEED_NOISE` (paper §1,
  §4): a handful of runs fitted closely cannot show the scatter a new seed brings.
- ``t_nu``: the quantile of a Student-t with :data:`~scalinglaw.guide.defaults.INTERVAL_DF` degrees of
  freedom, and ``k`` the inflation :data:`~scalinglaw.guide.defaults.INTERVAL_INFLATION`: both chosen
  on the collection so that held-out coverage matches nominal at 80 % and 95 %; held-out errors have
  heavier tails than a normal (:mod:`scalinglaw.guide.calibration`).

Identical resamples (the same multiset of runs) are fitted once: with two runs there are only three.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide.borrow import Prior

__all__ = [
    "Resampling",
    "bootstrap",
    "half_width",
    "log_draws",
    "multiplier",
    "run_scatter",
    "scale",
    "spread",
]

_RANK = {"fixed": 0, "tied": 1, "free": 2}


@dataclass(frozen=True)
class Resampling:
    """Bootstrap refits: parameters (draws, 5) in the order E, A, alpha, B, beta, and each draw's mode."""

    params: np.ndarray
    modes: tuple[str, ...]

    @property
    def n_ok(self) -> int:
        """Draws whose refit succeeded."""
        return int(np.all(np.isfinite(self.params), axis=1).sum())


def run_positions(table: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray]:
    """Row positions of each run and each run's size (runs in order of first appearance)."""
    codes, _ = pd.factorize(table["model"], sort=False)
    runs = [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]
    sizes = np.array([table["n_params"].iloc[r[0]] for r in runs], dtype=float)
    return runs, sizes


def bootstrap(
    table: pd.DataFrame,
    *,
    mode: str,
    draws: int,
    seed: int,
    objective: str,
    prior: Callable[[], Prior] | None,
    data: Mapping[str, float] | None,
    min_free: int,
) -> Resampling:
    """Refit ``draws`` resamples of whole runs of ``table`` the way a ``mode`` point fit was made.

    Parameters
    ----------
    table
        The checkpoints used for the point fit (after the early cut).
    mode
        The point fit's mode; no resample gets a richer one.
    prior
        Gives the borrowed alpha-ln A line (tied refits) and the (A, alpha) pairs a one-size refit draws
        from; called only if some resample needs it. None: no borrowing; resamples that lose sizes are
        refitted freely, and how little they determine shows up as spread.
    data
        Held (B, beta), if the point fit held them.
    """
    runs, sizes = run_positions(table)
    k = len(runs)
    rng = np.random.default_rng(seed)
    borrow = prior is not None
    picks = np.sort(rng.integers(0, k, size=(draws, k)), axis=1)
    n_sizes = np.array([len(np.unique(sizes[row])) for row in picks])
    modes = [fm.mode_for(int(n), borrow=borrow, min_free=min_free) for n in n_sizes]
    modes = [m if _RANK[m] <= _RANK[mode] else mode for m in modes]
    line, pairs = None, ()
    if borrow and any(m != "free" for m in modes):
        assert prior is not None
        line, pairs = prior().line, prior().pairs
    pair_of = rng.integers(0, max(len(pairs), 1), size=len(picks))
    params = np.full((len(picks), len(fm.PARAMS)), np.nan)
    for m in fm.MODES:
        idx = np.flatnonzero(np.array(modes) == m)
        if idx.size == 0:
            continue
        key = picks[idx] if m != "fixed" else np.column_stack([picks[idx], pair_of[idx]])
        uniq, inverse = np.unique(key, axis=0, return_inverse=True)
        inverse = np.ravel(inverse)
        subsets = [np.concatenate([runs[j] for j in row[:k]]) for row in uniq]
        if m == "free":
            fitted = fm.fit_free(table, subsets, objective=objective, data=data)
        elif m == "tied":
            assert line is not None
            fitted = fm.fit_tied(table, subsets, line, data=data)
        else:
            fitted = fm.fit_fixed(
                table, subsets, [pairs[int(row[k])] for row in uniq], objective=objective, data=data
            )
        params[idx] = fitted[inverse]
    return Resampling(params, tuple(modes))


def log_draws(law, params: np.ndarray, n_params, n_tokens) -> np.ndarray:
    """ln L_hat at (n_params, n_tokens) for every successful draw: shape (draws_ok, *broadcast shape)."""
    ok = params[np.all(np.isfinite(params), axis=1)]
    N = np.asarray(n_params, dtype=float)
    D = np.asarray(n_tokens, dtype=float)
    shape = np.broadcast_shapes(N.shape, D.shape)
    out = np.empty((len(ok), *shape))
    for i, row in enumerate(ok):
        values = dict(zip(fm.PARAMS, row, strict=True))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i] = np.log(law.predict(values, n_params=N, n_tokens=D))
    return out


def spread(logs: np.ndarray) -> np.ndarray:
    """Robust standard deviation over draws (axis 0): (84th - 16th percentile) / 2."""
    lo, hi = np.nanpercentile(logs, [15.865525393145708, 84.13447460685429], axis=0)
    return (hi - lo) / 2.0


def run_scatter(table: pd.DataFrame, predicted: np.ndarray) -> float:
    """Standard deviation over runs of each run's mean log residual (0 with fewer than three runs)."""
    resid = np.log(table["loss"].to_numpy() / predicted)
    per_run = pd.Series(resid).groupby(table["model"].to_numpy(), sort=False).mean()
    return float(per_run.std(ddof=1)) if len(per_run) >= 3 else 0.0


def scale(sd_boot: np.ndarray | float, *, run_sd: float, seed_noise: float) -> np.ndarray:
    """The interval's scale on the log scale: sqrt(s_boot^2 + max(s_run, s_seed)^2)."""
    return np.sqrt(np.square(sd_boot) + max(run_sd, seed_noise) ** 2)


def multiplier(level: float, *, inflation: float, df: float) -> float:
    """k * t_{df, (1 + level) / 2} (a normal quantile when ``df`` is infinite)."""
    if not 0 < level < 1:
        from scalinglaw.exceptions import ScalingLawError

        raise ScalingLawError(f"level == {level}, must be in (0, 1), e.g. 0.9 for a 90 % interval")
    from scipy import stats  # imported here: scipy.stats costs half a second at import time

    q = 0.5 + level / 2.0
    return float(inflation * (stats.t.ppf(q, df) if np.isfinite(df) else stats.norm.ppf(q)))


def half_width(
    sd_boot: np.ndarray | float,
    *,
    run_sd: float,
    seed_noise: float,
    inflation: float,
    df: float,
    level: float,
) -> np.ndarray:
    """Half-width of the interval on the log scale (see the module docstring)."""
    return multiplier(level, inflation=inflation, df=df) * scale(
        sd_boot, run_sd=run_sd, seed_noise=seed_noise
    )
