"""The star and iso-FLOP rules on grids small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalinglaw.plots import iso_flop_steps, star_cells, step_path

nan = np.nan


def test_star_goes_to_the_cheapest_row_candidate():
    grid = np.array(
        [
            [0.30, 0.12, 0.08, 0.04],  # candidates: 15% -> col 1, 10% -> col 2, 5% -> col 3
            [0.20, 0.09, 0.06, 0.03],  # candidates: 15% -> col 1, 10% -> col 1, 5% -> col 3
        ]
    )
    flops = np.array([[1.0, 2.0, 3.0, 4.0], [0.5, 1.5, 6.0, 8.0]])
    assert star_cells(grid, flops) == {0.15: (1, 1), 0.10: (1, 1), 0.05: (0, 3)}


def test_candidate_is_the_first_consistent_cell_not_the_first_below():
    # col 0 is below 10% but only 2 of the 5 cells from it rightwards are (40%), col 3 starts a run of 2/2
    grid = np.array([[0.05, 0.20, 0.20, 0.07, 0.06]])
    flops = np.arange(1.0, 6.0)[None, :]
    assert star_cells(grid, flops, (0.10,)) == {0.10: (0, 3)}


def test_exactly_75_percent_is_not_enough():
    # from col 0: 3 of 4 below (75%, not > 75%); from col 1: 2 of 3 below; col 3 alone: 1 of 1
    grid = np.array([[0.05, 0.05, 0.50, 0.05]])
    flops = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert star_cells(grid, flops, (0.10,)) == {0.10: (0, 3)}
    # four of five below from col 0 (80%) qualifies
    grid = np.array([[0.05, 0.05, 0.50, 0.05, 0.05]])
    assert star_cells(grid, np.arange(1.0, 6.0)[None, :], (0.10,)) == {0.10: (0, 0)}


def test_threshold_is_strict():
    grid = np.array([[0.10, 0.10]])
    assert star_cells(grid, np.array([[1.0, 2.0]]), (0.10,)) == {0.10: None}


def test_rows_without_a_candidate_are_skipped_and_none_when_no_row_has_one():
    grid = np.array([[0.50, 0.40, 0.30], [0.20, 0.04, 0.03], [0.90, 0.90, 0.90]])
    flops = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [0.1, 0.2, 0.3]])
    assert star_cells(grid, flops, (0.05, 0.01)) == {0.05: (1, 1), 0.01: None}


def test_ties_in_compute_go_to_the_earlier_row():
    grid = np.array([[0.30, 0.04], [0.04, 0.04], [0.04, 0.04]])
    flops = np.array([[1.0, 2.0], [2.0, 3.0], [2.0, 3.0]])
    assert star_cells(grid, flops, (0.05,)) == {0.05: (0, 1)}
    flops = np.array([[1.0, 5.0], [2.0, 3.0], [2.0, 3.0]])
    assert star_cells(grid, flops, (0.05,)) == {0.05: (1, 0)}


def test_failed_cells_count_against_empty_cells_do_not():
    # a failed cell (NaN value, known compute) right of the candidate breaks the 75% rule ...
    grid = np.array([[0.04, 0.04, nan, nan]])
    flops = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert star_cells(grid, flops, (0.05,)) == {0.05: None}
    # ... while empty cells (no such configuration: NaN value and compute) are not counted
    flops = np.array([[1.0, 2.0, nan, nan]])
    assert star_cells(grid, flops, (0.05,)) == {0.05: (0, 0)}


def test_candidate_with_unknown_compute_is_skipped():
    grid = np.array([[0.04, 0.04], [0.30, 0.04]])
    flops = np.array([[nan, nan], [1.0, 9.0]])
    assert star_cells(grid, flops, (0.05,)) == {0.05: (1, 1)}


def test_star_cells_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="one shape"):
        star_cells(np.zeros((2, 3)), np.zeros((3, 2)))


def test_iso_flop_steps_take_the_last_column_within_budget():
    flops = np.array(
        [
            [1.0, 2.0, 3.0, 4.0],
            [2.0, 4.0, 6.0, 8.0],
            [5.0, 6.0, 7.0, 8.0],
            [1.0, 9.0, 2.0, nan],  # not monotone: the last in-budget cell counts; empty cells never do
        ]
    )
    assert iso_flop_steps(flops, 4.0).tolist() == [3, 1, -1, 2]
    assert iso_flop_steps(flops, 0.5).tolist() == [-1, -1, -1, -1]
    assert iso_flop_steps(flops, 1e9).tolist() == [3, 3, 3, 2]


def test_the_starred_cell_is_inside_its_own_contour():
    rng = np.random.default_rng(0)
    flops = np.cumsum(rng.uniform(1, 2, (5, 6)), axis=1) * np.arange(1, 6)[:, None]
    grid = rng.uniform(0, 0.2, (5, 6))
    for t, cell in star_cells(grid, flops).items():
        if cell is not None:
            r, c = cell
            assert iso_flop_steps(flops, flops[r, c])[r] >= c, t


def test_step_path_follows_cell_edges_and_skips_the_border():
    xs, ys = step_path(np.array([3, 1, 0]), n_cols=4)
    # row 0 is entirely in budget: its vertical edge would be the grid's right border, so it is left out
    assert np.isnan(xs[1]) and np.isnan(ys[1])
    finite = np.isfinite(xs)
    assert xs[finite].tolist() == [3.5, 3.5, 1.5, 1.5, 0.5, 0.5]
    assert ys[finite].tolist() == [-0.5, 0.5, 0.5, 1.5, 1.5, 2.5]


def _reference(grid, flops, t):
    """The rule written out: each row's first qualifying cell, then the cheapest (earliest row on ties)."""
    candidates = []
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            right = [(grid[r, j], flops[r, j]) for j in range(c, grid.shape[1])]
            present = [g for g, f in right if not (np.isnan(g) and np.isnan(f))]
            below = [g for g in present if not np.isnan(g) and g < t]
            if not np.isnan(grid[r, c]) and grid[r, c] < t and len(below) / len(present) > 0.75:
                candidates.append((flops[r, c], r, c))
                break
    known = [x for x in candidates if not np.isnan(x[0])]
    return min(known)[1:] if known else None


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5).flatmap(
        lambda rows: st.integers(1, 6).flatmap(
            lambda cols: st.tuples(
                st.lists(
                    st.sampled_from([nan, 0.02, 0.04, 0.07, 0.12, 0.2]),
                    min_size=rows * cols,
                    max_size=rows * cols,
                ),
                st.lists(
                    st.sampled_from([nan, 1.0, 2.0, 3.0, 5.0]), min_size=rows * cols, max_size=rows * cols
                ),
                st.just((rows, cols)),
            )
        )
    )
)
def test_star_cells_agree_with_the_rule_written_out(case):
    values, costs, shape = case
    grid, flops = np.array(values).reshape(shape), np.array(costs).reshape(shape)
    got = star_cells(grid, flops)
    for t in (0.15, 0.10, 0.05):
        assert got[t] == _reference(grid, flops, t)
