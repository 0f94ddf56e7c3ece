"""Engine speed on the paper's grid for one real family, against the SciPy references, in one process.

The grid is the paper's Fig. 1b sweep: every k-smallest-models subset x 10 training percentages (10B cut),
target the largest model. It prints fits per second for

* ``fit_many`` (least squares, and Huber on log-loss),
* a per-fit ``scipy.optimize.curve_fit`` loop from the paper's single starting point (least squares),
* the 4^5 = 1,024-start Huber reference (L-BFGS-B from every point of ColPret's grid), timed on a sample
  of the fits because it takes seconds each,

with medians over repeats, the speed-ups, and whether the engine's objective is at least as low as the
reference's on every fit compared (relative tolerance 1e-9).

``--family all`` times the least-squares engine against the ``curve_fit`` loop on the grid of every family
the paper's experiments use, one row per family, and the median speed-up (the multi-start reference, at
seconds a fit, is left out there).

``--every 10`` fits the same grid on every tenth row of the table: against the full run, it shows how much of
the engine's time is work per point and how much per-call overhead.

Run: ``SCALINGLAW_SOURCES=../shared/sources python benchmarks/bench_engine.py [--family gpt3|all]
[--every N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import scalinglaw as sl
from scalinglaw import protocol
from scalinglaw.experiments import default_families, family_runs, model_counts
from scalinglaw.fitting.objectives import get_objective
from scalinglaw.fitting.reference import curve_fit_paper, multistart

TOLERANCE = 1e-9
#: ... plus this much of the loss's centred sum of squares: an exact fit's objective is rounding noise.
FLOOR = 1e-14


def grid(family: str, every: int = 1) -> tuple[protocol.Runs, list[np.ndarray]]:
    """The family's runs and the paper's grid of training masks (on every ``every``-th row only)."""
    runs = protocol.Runs(family_runs(family))
    cands = runs.candidates(runs.target())
    rows = np.arange(len(runs.table)) % every == 0
    masks = [
        runs.training(cands[:k], percentage=p) & rows
        for k in model_counts(len(cands))
        for p in protocol.PERCENTAGES
    ]
    return runs, [m for m in masks if m.sum() >= 5]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def objective(objective_name: str, params: dict, table) -> float:
    pred = sl.laws.chinchilla().predict(params, n_params=table["n_params"], n_tokens=table["n_tokens"])
    return get_objective(objective_name).value(pred, table["loss"].to_numpy(), np.ones(len(table)))


def no_worse(value: float, reference: float, table) -> bool:
    """The engine's objective is at most the reference's (relative TOLERANCE, absolute rounding floor)."""
    loss = table["loss"].to_numpy()
    return value <= reference * (1 + TOLERANCE) + FLOOR * float(np.sum((loss - loss.mean()) ** 2))


def within_bounds(params: dict | None) -> bool:
    """Whether a reference solution is in the law's domain (curve_fit is unbounded: on a few points it can
    send an exponent past the engine's bound of 5, to 20 and beyond)."""
    law = sl.laws.chinchilla()
    inside = (law.param(n).lower <= v <= law.param(n).upper for n, v in (params or {}).items())
    return params is not None and all(inside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="gpt3", help="a family, or 'all' for one row per family")
    parser.add_argument("--repeats", type=int, default=21, help="repeats of the engine timings (median)")
    parser.add_argument("--reference-fits", type=int, default=3, help="fits the 1,024-start reference times")
    parser.add_argument(
        "--every",
        type=int,
        default=1,
        help="fit every N-th row of the table only: how the engine's time splits between work per point "
        "and work per call",
    )
    args = parser.parse_args()
    if args.family == "all":
        every_family(args.repeats)
        return

    runs, masks = grid(args.family, args.every)
    tables = [runs.table[m] for m in masks]
    n = len(masks)
    n_points = sum(int(m.sum()) for m in masks)
    print(f"{args.family}: {n} fits of the paper's grid, {n_points:,} points in all")

    sl.fit_many(runs.table, subsets=masks)  # warm up (imports, caches)
    t_lsq, fits_lsq = timed(lambda: sl.fit_many(runs.table, subsets=masks), args.repeats)
    t_hub, fits_hub = timed(
        lambda: sl.fit_many(runs.table, subsets=masks, objective="huber_log"), args.repeats
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_cf, cf = timed(lambda: [_curve_fit(t) for t in tables], 1)
    lsq_ok, compared = _compare(fits_lsq, cf, tables)

    sample = np.linspace(0, n - 1, min(args.reference_fits, n)).round().astype(int)
    t_ms, ms = timed(lambda: [multistart(tables[i], objective="huber_log") for i in sample], 1)
    hub_ok = sum(no_worse(fits_hub[i].value, v, tables[i]) for i, (_, v) in zip(sample, ms, strict=True))

    rows = [
        ("fit_many, least squares", n / t_lsq),
        ("fit_many, Huber log-loss", n / t_hub),
        ("curve_fit loop (paper's single start)", n / t_cf),
        ("4^5-start Huber reference", len(sample) / t_ms),
    ]
    print(f"{'solver':<40} {'fits/s':>12}")
    for name, fps in rows:
        print(f"{name:<40} {fps:>12,.4g}")
    print(
        f"speed-up vs curve_fit: {t_cf / t_lsq:,.0f}x (objective <= curve_fit's on {lsq_ok}/{compared} fits "
        f"where curve_fit stayed within bounds, of {n}); "
        f"vs the multi-start Huber reference: {(t_ms / len(sample)) / (t_hub / n):,.0f}x "
        f"(objective <= reference's on {hub_ok}/{len(sample)} fits)"
    )


def every_family(repeats: int) -> None:
    """Least squares against the curve_fit loop on each family's grid; then the median speed-up.

    The last column counts the fits where the engine's objective is at most curve_fit's, of those where
    curve_fit's solution is within the law's bounds.
    """
    print(
        f"{'family':<30} {'fits':>5} {'points':>8} {'engine fits/s':>14} {'curve_fit fits/s':>17} "
        f"{'speed-up':>9} {'<= curve_fit':>12}"
    )
    ratios, worse = [], 0
    for family in default_families():
        runs, masks = grid(family)
        if not masks:
            continue
        tables = [runs.table[m] for m in masks]
        sl.fit_many(runs.table, subsets=masks)  # warm up
        t_lsq, fits = timed(lambda runs=runs, masks=masks: sl.fit_many(runs.table, subsets=masks), repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_cf, cf = timed(lambda tables=tables: [_curve_fit(t) for t in tables], 1)
        ok, compared = _compare(fits, cf, tables)
        n = len(masks)
        ratios.append(t_cf / t_lsq)
        worse += compared - ok
        print(
            f"{family:<30} {n:>5} {sum(int(m.sum()) for m in masks):>8,} {n / t_lsq:>14,.0f} "
            f"{n / t_cf:>17,.0f} {t_cf / t_lsq:>8,.1f}x {ok:>5}/{compared}"
        )
    print(
        f"median speed-up over {len(ratios)} families: {statistics.median(ratios):,.1f}x; "
        f"curve_fit lower within bounds on {worse} fits"
    )


def _compare(fits: list, references: list, tables: list) -> tuple[int, int]:
    """(engine at or below the reference, fits compared): those where the reference is within bounds."""
    pairs = [(f, p, t) for f, p, t in zip(fits, references, tables, strict=True) if within_bounds(p)]
    return sum(no_worse(f.value, objective("lsq", p, t), t) for f, p, t in pairs), len(pairs)


def _curve_fit(table):
    try:
        return curve_fit_paper(table)
    except (RuntimeError, ValueError):
        return None


if __name__ == "__main__":
    main()
