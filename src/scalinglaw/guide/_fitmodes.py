"""The guide's three ways to fit, by how much the runs can identify, each batched over row subsets.

``free``
    All five parameters of E + A / N^alpha + B / D^beta (three or more sizes).
``tied``
    alpha tied to A by the collection's line alpha = c0 + c1 ln A (Choshen et al. 2024, §9: about three
    degrees of freedom), the rest fitted (two sizes). For a fixed ln A the law is the data term plus a
    known offset, so the tie is solved as a profile over ln A: every grid value is an ordinary fit with
    (A, alpha) held, batched into one engine call on a stacked table, refined by a parabola through the
    best three grid points. The offset is exact for squared error only.
``fixed``
    (A, alpha) held at borrowed values (§5; one size).

The data term (B, beta) can be held too, when the runs saw fewer than three distinct token counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

import scalinglaw as sl
from scalinglaw.fitting import Fit

PARAMS = ("E", "A", "alpha", "B", "beta")
MODES = ("free", "tied", "fixed")
#: ln A grid of the tied profile (the collection's families lie between 3.9 and 14.6). The profile can
#: have two nearly equal minima with two sizes, so the grid is fine (0.5) before the parabolic refinement.
TIED_GRID = np.arange(-2.0, 24.01, 0.5)


#: Early-cut policies (see :func:`early_cut`).
CUTS = ("relative", "absolute", "none")


def early_cut(table: pd.DataFrame, policy: str, tokens: float, fraction: float) -> np.ndarray:
    """Boolean mask of the checkpoints kept by the early cut.

    ``"relative"``: each run keeps tokens > min(``tokens``, ``fraction`` x its final tokens), so long runs
    lose their first ``tokens`` (the paper's 10B) and short runs their first ``fraction``; with ``fraction``
    < 1 a run's final checkpoint always survives. ``"absolute"``: tokens > ``tokens``, the paper's §6.1
    rule (runs shorter than that vanish). ``"none"``: keep everything.
    """
    tok = table["n_tokens"].to_numpy()
    if policy == "none":
        return np.ones(len(table), dtype=bool)
    if policy == "absolute":
        return tok > tokens
    final = table.groupby("model", sort=False)["n_tokens"].transform("max").to_numpy()
    return tok > np.minimum(tokens, fraction * final)


def mode_for(n_sizes: int, *, borrow: bool, min_free: int) -> str:
    """The fit mode a set of runs with ``n_sizes`` distinct sizes gets."""
    if n_sizes >= min_free or not borrow:
        return "free"
    return "tied" if n_sizes == 2 else "fixed"


def _as_array(fits: Sequence[Fit | Mapping[str, float] | None]) -> np.ndarray:
    out = np.full((len(fits), len(PARAMS)), np.nan)
    for i, f in enumerate(fits):
        if f is None:
            continue
        params = f.params if isinstance(f, Fit) else f
        if isinstance(f, Fit) and f.status != "ok":
            continue
        out[i] = [params[p] for p in PARAMS]
    return out


def _fit_chunked(table: pd.DataFrame, subsets: Sequence[np.ndarray], **options: object) -> np.ndarray:
    """``fit_many`` over ``subsets`` in chunks of at most :data:`MAX_CELLS` / len(table) fits."""
    size = max(1, MAX_CELLS // max(len(table), 1))
    parts = [
        _as_array(sl.fit_many(table, subsets=list(subsets[k : k + size]), **options))  # type: ignore[arg-type]
        for k in range(0, len(subsets), size)
    ]
    return np.concatenate(parts) if parts else np.empty((0, len(PARAMS)))


def fit_free(
    table: pd.DataFrame, subsets: Sequence[np.ndarray], *, objective: str, data: Mapping[str, float] | None
) -> np.ndarray:
    """(S, 5) parameters of free fits of each subset (NaN rows where a fit failed)."""
    return _fit_chunked(table, subsets, objective=objective, fixed=dict(data or {}) or None)


def fit_fixed(
    table: pd.DataFrame,
    subsets: Sequence[np.ndarray],
    pairs: Sequence[tuple[float, float]],
    *,
    objective: str,
    data: Mapping[str, float] | None,
) -> np.ndarray:
    """(S, 5) parameters with (A, alpha) held at ``pairs[i]`` for subset i (one engine call per pair)."""
    out = np.full((len(subsets), len(PARAMS)), np.nan)
    groups: dict[tuple[float, float], list[int]] = {}
    for i, pair in enumerate(pairs):
        groups.setdefault((float(pair[0]), float(pair[1])), []).append(i)
    for (A, alpha), idx in groups.items():
        fixed = {"A": A, "alpha": alpha, **(data or {})}
        out[idx] = _fit_chunked(table, [subsets[i] for i in idx], objective=objective, fixed=fixed)
    return out


#: Bound on (fits in one engine call) x (rows of its stacked table): the engine holds one weight per
#: row for every fit of a call, so the tied profile is fitted in chunks of ln A values below this.
MAX_CELLS = 4_000_000


def _shifted_fits(
    table: pd.DataFrame,
    subsets: Sequence[np.ndarray],
    a_values: np.ndarray,
    line: tuple[float, float],
    data: Mapping[str, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits of subset i with ln A = ``a_values[i, j]`` (alpha on the line), for every (i, j).

    Returns objective values (S, J) and parameters (S, J, 5), infinite / NaN where a fit failed. Each
    distinct ln A value becomes one shifted copy of the table; copies are batched into as few engine
    calls as :data:`MAX_CELLS` allows.
    """
    c0, c1 = line
    N = table["n_params"].to_numpy(float)
    D = table["n_tokens"].to_numpy(float)
    L = table["loss"].to_numpy(float)
    uniq, code = np.unique(a_values, return_inverse=True)
    code = code.reshape(a_values.shape)
    alphas = c0 + c1 * uniq
    offsets = np.exp(uniq[:, None] - alphas[:, None] * np.log(N)[None, :])  # (U, n)
    # Shift every copy up so that losses stay positive (the engine requires it); E absorbs the shift
    # exactly under squared error, and its lower bound moves with it so that E >= 0 still holds.
    shift = float(np.ceil(offsets.max() + L.max() + 1.0))
    law = (
        sl.laws.chinchilla().bound(E=(shift, None)).start(E=shift + 1.0).fix(A=0.0, alpha=0.0, **(data or {}))
    )
    S, J = a_values.shape
    n = len(L)
    values = np.full((S, J), np.inf)
    params = np.full((S, J, len(PARAMS)), np.nan)
    pairs = [(i, j) for i in range(S) for j in range(J)]
    by_copy: dict[int, list[tuple[int, int]]] = {}
    for i, j in pairs:
        by_copy.setdefault(int(code[i, j]), []).append((i, j))
    copies = sorted(by_copy)
    start = 0
    while start < len(copies):
        # grow the chunk while (its fits) x (its rows) stays under the bound
        stop, fits = start, 0
        while stop < len(copies):
            more = fits + len(by_copy[copies[stop]])
            if stop > start and more * (stop - start + 1) * n > MAX_CELLS:
                break
            fits, stop = more, stop + 1
        chunk = copies[start:stop]
        stacked = pd.DataFrame(
            {
                "n_params": np.tile(N, len(chunk)),
                "n_tokens": np.tile(D, len(chunk)),
                "loss": (L[None, :] - offsets[chunk] + shift).ravel(),
            }
        )
        cells = [(i, j, k) for k, u in enumerate(chunk) for i, j in by_copy[u]]
        subs = [k * n + np.asarray(subsets[i]) for i, _, k in cells]
        result = sl.fit_many(stacked, law, objective="lsq", subsets=subs)
        got = _as_array(result)
        for (i, j, _), f, row in zip(cells, result, got, strict=True):
            values[i, j] = f.value if f.status == "ok" else np.inf
            params[i, j] = row
        start = stop
    params[..., 0] -= shift
    params[..., 1] = np.exp(a_values)
    params[..., 2] = c0 + c1 * a_values
    return values, params


def fit_tied(
    table: pd.DataFrame,
    subsets: Sequence[np.ndarray],
    line: tuple[float, float],
    *,
    data: Mapping[str, float] | None,
) -> np.ndarray:
    """(S, 5) parameters of fits with alpha = c0 + c1 ln A, by profiling ln A (squared error)."""
    c0, c1 = line
    grid = TIED_GRID[(c0 + c1 * TIED_GRID > 0) & (c0 + c1 * TIED_GRID < sl.laws.MAX_EXPONENT)]
    S = len(subsets)
    values, params = _shifted_fits(table, subsets, np.broadcast_to(grid, (S, len(grid))), line, data)
    rows = np.arange(S)
    best = np.argmin(values, axis=1)
    out = params[rows, best].copy()
    out[~np.isfinite(values[rows, best])] = np.nan
    # Parabola through the best grid point and its neighbours; one more fit at each subset's vertex.
    step = grid[1] - grid[0]
    vertex = grid[best].astype(float)
    for i, g in enumerate(best):
        if 0 < g < len(grid) - 1 and np.all(np.isfinite(values[i, g - 1 : g + 2])):
            y0, y1, y2 = values[i, g - 1 : g + 2]
            curvature = y0 - 2.0 * y1 + y2
            if curvature > 0:
                vertex[i] = grid[g] + 0.5 * step * (y0 - y2) / curvature
    refined, refined_params = _shifted_fits(table, subsets, vertex[:, None], line, data)
    better = refined[:, 0] <= values[rows, best]
    out[better] = refined_params[better, 0]
    return out


def point_fit(
    table: pd.DataFrame,
    mode: str,
    *,
    objective: str,
    line: tuple[float, float] | None,
    pair: tuple[float, float] | None,
    data: Mapping[str, float] | None,
) -> Fit:
    """The point estimate as an engine :class:`Fit` (tied: refitted with the profiled (A, alpha) held)."""
    fixed = dict(data or {})
    if mode == "tied":
        assert line is not None
        params = fit_tied(table, [np.arange(len(table))], line, data=data)[0]
        if np.all(np.isfinite(params)):
            fixed.update(A=float(params[1]), alpha=float(params[2]))
        else:  # pragma: no cover - the profile failed everywhere; fall back to the borrowed pair
            assert pair is not None
            fixed.update(A=pair[0], alpha=pair[1])
    elif mode == "fixed":
        assert pair is not None
        fixed.update(A=pair[0], alpha=pair[1])
    return sl.fit(table, objective=objective, fixed=fixed or None)
