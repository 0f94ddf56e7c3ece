"""The paper's efficiency marks on a heatmap: stars and iso-FLOP step contours (§4.4, Fig. 1).

Pure functions on 2-D arrays, so the rule can be checked on grids small enough to verify by hand.

A grid cell is *present* (a configuration that was run) when its value or its compute is finite; a cell
with a NaN value but finite compute is a failed law; a cell with both NaN is *empty* (no such
configuration, e.g. 5 training models in a family of 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["CONSISTENCY", "STAR_THRESHOLDS", "iso_flop_steps", "star_cells", "step_path"]

#: The ARE levels the paper stars: 15 %, 10 % and 5 % (Fig. 1).
STAR_THRESHOLDS = (0.15, 0.10, 0.05)
#: More than this share of a row's present cells from a candidate rightwards must be below the
#: threshold (the paper's code, ``get_minimal_cell``: ``consistency=0.75``).
CONSISTENCY = 0.75


def star_cells(
    grid: np.ndarray,
    flops: np.ndarray,
    thresholds: Sequence[float] = STAR_THRESHOLDS,
    *,
    consistency: float = CONSISTENCY,
) -> dict[float, tuple[int, int] | None]:
    """The cheapest reliable cell for each ARE threshold: where the paper puts its stars.

    For each threshold t, and within each row (columns in ascending order):

    1. the row's *candidate* is the first cell c with ``grid[r, c] < t`` such that more than
       ``consistency`` (75 %) of the present cells from c to the end of the row, c included, are
       also below t. Failed cells (NaN value) count as not below; empty cells are not counted.
       A row may have no candidate.
    2. among all rows' candidates, the one with the least ``flops`` gets the star. Ties go to the
       earlier row (rows in display order, i.e. ascending). Candidates with unknown compute are
       skipped.

    Parameters
    ----------
    grid
        Shape (rows, cols): the error of each cell in the same units as ``thresholds`` (ARE as a
        fraction for the defaults); NaN where the law failed or the cell is empty.
    flops
        Shape (rows, cols): the compute each cell's law uses (FLOPs; NaN for empty cells). In results
        tables this is the training compute of the runs the law fits on: 6 N D per model up to the
        last checkpoint used. The paper instead summed the cumulative per-checkpoint FLOPs of every
        training row, which orders cells about the same way but counts compute many times over.
    thresholds
        Error levels to star.
    consistency
        The share of cells, from the candidate rightwards, that must be below the threshold.

    Returns
    -------
    dict
        Threshold -> (row, col) of its star, or None when no row has a candidate.

    Examples
    --------
    >>> import numpy as np
    >>> grid = np.array([[0.30, 0.12, 0.08, 0.04],
    ...                  [0.20, 0.09, 0.06, 0.03]])
    >>> flops = np.array([[1.0, 2.0, 3.0, 4.0],
    ...                   [2.0, 4.0, 6.0, 8.0]])
    >>> star_cells(grid, flops)
    {0.15: (0, 1), 0.1: (0, 2), 0.05: (0, 3)}
    """
    grid = np.asarray(grid, dtype=float)
    flops = np.asarray(flops, dtype=float)
    if grid.ndim != 2 or grid.shape != flops.shape:
        raise ValueError(
            f"grid and flops must be 2-D arrays of one shape, got {grid.shape} and {flops.shape}"
        )
    present = np.isfinite(grid) | np.isfinite(flops)
    out: dict[float, tuple[int, int] | None] = {}
    for t in thresholds:
        below = np.isfinite(grid) & (grid < t)
        best: tuple[int, int] | None = None
        best_flops = np.inf
        for r in range(grid.shape[0]):
            for c in range(grid.shape[1]):
                if not below[r, c]:
                    continue
                rest = present[r, c:]
                if below[r, c:][rest].mean() > consistency:
                    if np.isfinite(flops[r, c]) and flops[r, c] < best_flops:
                        best, best_flops = (r, c), float(flops[r, c])
                    break
        out[float(t)] = best
    return out


def iso_flop_steps(flops: np.ndarray, budget: float) -> np.ndarray:
    """For each row, the last column whose compute is within ``budget``: the iso-FLOP contour.

    Parameters
    ----------
    flops
        Shape (rows, cols), the compute of each cell's law (NaN for empty cells, which never count).
    budget
        The compute of a starred cell.

    Returns
    -------
    ndarray of int, shape (rows,)
        Column index per row; -1 when no cell of the row is within budget. Cells right of the index may
        still be within budget when compute does not grow along the row; the contour follows the last one.

    Examples
    --------
    >>> import numpy as np
    >>> iso_flop_steps(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [5.0, 7.0, 9.0]]), 4.0)
    array([ 2,  1, -1])
    """
    flops = np.asarray(flops, dtype=float)
    within = np.isfinite(flops) & (flops <= budget * (1 + 1e-12))
    last = flops.shape[1] - 1 - np.argmax(within[:, ::-1], axis=1)
    return np.where(within.any(axis=1), last, -1)


def step_path(steps: np.ndarray, n_cols: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the contour along cell edges, in image coordinates (cell (r, c) centred at (c, r)).

    Each row contributes a vertical segment on the right edge of its last in-budget cell; consecutive
    rows are joined by a horizontal segment on their shared edge. A vertical segment that would lie on
    the grid's left edge (no cell in budget, step -1) or, given ``n_cols``, on its right edge (the whole
    row in budget) is left out (NaN breaks the line there): the grid's border already draws it.

    >>> xs, ys = step_path(np.array([2, 0]))
    >>> xs.tolist(), ys.tolist()
    ([2.5, 2.5, 0.5, 0.5], [-0.5, 0.5, 0.5, 1.5])
    >>> xs, ys = step_path(np.array([2, 1, -1]), n_cols=3)
    >>> xs.tolist()
    [2.5, nan, 2.5, 1.5, 1.5, -0.5, nan, -0.5]
    """
    xs: list[float] = []
    ys: list[float] = []
    for r, step in enumerate(np.asarray(steps, dtype=int)):
        x = step + 0.5
        xs.append(x)
        ys.append(r - 0.5)
        if step < 0 or (n_cols is not None and step >= n_cols - 1):
            xs.append(np.nan)
            ys.append(np.nan)
        xs.append(x)
        ys.append(r + 0.5)
    return np.array(xs), np.array(ys)
