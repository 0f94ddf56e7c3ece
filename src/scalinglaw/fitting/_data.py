"""Turn a runs table into clean arrays, or raise a DataError that says what is wrong and where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError

#: Rows listed in an error message before the rest are summarised.
MAX_ROWS_SHOWN = 10


@dataclass(frozen=True)
class Problem:
    """One fit's data: inputs (each shape (n,)), losses and weights, all float64 and checked."""

    inputs: Mapping[str, np.ndarray]
    loss: np.ndarray
    weight: np.ndarray
    n_models: int
    model_keys: np.ndarray | None = None  #: (n,) model of each point (codes), for counting models in subsets


@dataclass(frozen=True)
class Batch:
    """The points of K fits, as weighted rows of one checked table.

    Point i is row ``row[i]`` of ``table``, with weight ``weight[i]`` > 0, in fit ``fit[i]``. Points are
    grouped by fit (fits in order) and follow the table's row order within a fit; the table's rows are
    sorted by the law's inputs, so every fit's points come out sorted by them too (the separable solver
    groups them by model size). Rows of weight 0 are not points.
    """

    table: Problem
    fit: np.ndarray  #: (T,)
    row: np.ndarray  #: (T,)
    weight: np.ndarray  #: (T,)
    n_points: np.ndarray  #: (K,)
    n_models: np.ndarray  #: (K,) distinct models among each fit's points
    shared: bool  #: the fits draw on the same rows (subsets of one table), not each on rows of its own

    @classmethod
    def of_tables(cls, tables: Sequence[Problem]) -> Batch:
        """One fit per table."""
        sizes = [len(t.loss) for t in tables]
        names = list(tables[0].inputs) if tables else []
        source = np.repeat(np.arange(len(tables)), sizes)
        table = Problem(
            {c: _concat([t.inputs[c] for t in tables]) for c in names},
            _concat([t.loss for t in tables]),
            _concat([t.weight for t in tables]),
            0,  # models are counted per fit (n_models)
            _concat([_keys(t) for t in tables], np.int64),
        )
        order = np.lexsort((*_sort_keys(table), source))
        table = _rows(table, order)
        keep = np.flatnonzero(table.weight > 0)
        return cls._of_points(table, source[order][keep], keep, table.weight[keep], len(tables), False)

    @classmethod
    def of_subsets(cls, table: Problem, subsets: Sequence[Any]) -> Batch:
        """One fit per subset of the table's rows: a boolean mask, or row positions (a position listed
        twice weighs twice, as in a bootstrap)."""
        order = np.lexsort(_sort_keys(table))
        counts = _subset_counts(table, subsets)
        if (np.diff(order) != 1).any():  # (a table of checkpoints usually comes sorted)
            counts, table = counts[:, order], _rows(table, order)
        K, U = counts.shape
        positive = (counts > 0) & (table.weight > 0)
        points = np.flatnonzero(positive)  # row-major: by fit, then by (sorted) row
        fit = np.repeat(np.arange(K), np.count_nonzero(positive, axis=1))
        row = points - fit * U
        weight = table.weight[row] if counts.dtype == bool else table.weight[row] * counts.ravel()[points]
        return cls._of_points(table, fit, row, weight, K, True)

    @classmethod
    def _of_points(
        cls, table: Problem, fit: np.ndarray, row: np.ndarray, weight: np.ndarray, n_fits: int, shared: bool
    ) -> Batch:
        keys = _keys(table)[row] + 1  # pandas codes a missing model -1: it counts as one model
        width = int(keys.max()) + 1 if keys.size else 1
        seen = np.bincount(fit * width + keys, minlength=n_fits * width).reshape(n_fits, width)
        n_points = np.bincount(fit, minlength=n_fits)
        return cls(table, fit, row, weight, n_points, np.count_nonzero(seen, axis=1), shared)

    @property
    def n_fits(self) -> int:
        return len(self.n_points)

    @cached_property
    def fit_start(self) -> np.ndarray:
        """(K,) index of each fit's first point."""
        return np.concatenate([[0], np.cumsum(self.n_points)[:-1]])

    def fit_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum per fit of per-point values: (..., T) -> (..., K), 0 for a fit without points."""
        out = np.zeros((*values.shape[:-1], self.n_fits))
        some = self.n_points > 0
        if some.any():
            out[..., some] = np.add.reduceat(values, self.fit_start[some], axis=-1)
        return out

    def column(self, name: str) -> np.ndarray:
        """(T,) an input (or ``"loss"``) at every point."""
        values = self.table.loss if name == "loss" else self.table.inputs[name]
        return values[self.row]

    def first_of_value(self, name: str) -> np.ndarray:
        """(T,) whether each point starts a run of its fit's points with one value of input ``name``.

        Points are sorted by the law's first input within a fit, so for that input the runs are its
        distinct values (the separable solver's segments, one per model size).
        """
        values = self.column(name)
        first = np.ones(len(values), bool)  # (empty without points)
        first[1:] = (self.fit[1:] != self.fit[:-1]) | (values[1:] != values[:-1])
        return first

    def only(self, fits: np.ndarray) -> Batch:
        """The fits listed (increasing), renumbered from 0; this very batch when that is all of them."""
        if len(fits) == self.n_fits:
            return self
        new = np.full(self.n_fits, -1)
        new[fits] = np.arange(len(fits))
        keep = new[self.fit] >= 0
        return Batch(
            self.table,
            new[self.fit[keep]],
            self.row[keep],
            self.weight[keep],
            self.n_points[fits],
            self.n_models[fits],
            self.shared,
        )

    def problem(self, k: int) -> Problem:
        """Fit ``k``'s points on their own."""
        points = slice(self.fit_start[k], self.fit_start[k] + self.n_points[k])
        rows, t = self.row[points], self.table
        inputs = {c: v[rows] for c, v in t.inputs.items()}
        return Problem(inputs, t.loss[rows], self.weight[points], int(self.n_models[k]), _keys(t)[rows])


def _sort_keys(table: Problem) -> tuple[np.ndarray, ...]:
    """``np.lexsort`` keys that sort the table's rows by its inputs, the first input first."""
    return tuple(table.inputs[c] for c in reversed(list(table.inputs)))


def _concat(arrays: Sequence[np.ndarray], dtype: type = float) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype)


def _keys(table: Problem) -> np.ndarray:
    return np.zeros(len(table.loss), np.int64) if table.model_keys is None else table.model_keys


def _rows(table: Problem, order: np.ndarray) -> Problem:
    """The table with its rows in ``order``."""
    keys = None if table.model_keys is None else table.model_keys[order]
    inputs = {c: v[order] for c, v in table.inputs.items()}
    return Problem(inputs, table.loss[order], table.weight[order], table.n_models, keys)


def _subset_counts(table: Problem, subsets: Sequence[Any]) -> np.ndarray:
    """(K, rows) how many times each subset lists each row: boolean masks (the protocol's grids) stay
    booleans, a byte a row; row positions count (a position listed twice counts twice)."""
    n = len(table.loss)
    selections = [np.asarray(sel) for sel in subsets]
    for i, sel in enumerate(selections):
        if sel.dtype == bool:
            if sel.shape != (n,):
                raise DataError(f"subsets[{i}]: a boolean mask needs {n} entries, got {sel.shape[0]}")
        elif sel.size and (sel.min() < 0 or sel.max() >= n or not np.issubdtype(sel.dtype, np.integer)):
            raise DataError(f"subsets[{i}]: row positions must be integers in [0, {n})")
    if all(sel.dtype == bool for sel in selections):
        return np.stack(selections) if selections else np.zeros((0, n), bool)
    return np.stack(
        [sel if sel.dtype == bool else np.bincount(sel.astype(np.int64), minlength=n) for sel in selections]
    ).astype(float)


def describe_rows(labels: Sequence[object]) -> str:
    """'rows 0, 17, 18' (at most :data:`MAX_ROWS_SHOWN` listed)."""
    shown = ", ".join(str(r) for r in labels[:MAX_ROWS_SHOWN])
    more = f" and {len(labels) - MAX_ROWS_SHOWN} more" if len(labels) > MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(labels) != 1 else ''} {shown}{more}"


def as_problem(runs: object, inputs: Sequence[str], *, where: str = "runs") -> Problem:
    """Check ``runs`` and return its arrays.

    ``runs`` is a DataFrame (or a mapping of equal-length columns) with the law's input columns and
    ``loss``; an optional ``weight`` column weights points (non-negative; e.g. bootstrap counts).
    Every input and the loss must be numeric, finite and > 0.
    """
    if isinstance(runs, Mapping) and not isinstance(runs, pd.DataFrame):
        try:
            runs = pd.DataFrame(dict(runs))
        except ValueError as exc:
            raise DataError(f"{where}: columns must have equal lengths ({exc})") from None
    if not isinstance(runs, pd.DataFrame):
        raise DataError(f"{where} must be a pandas DataFrame, got {type(runs).__name__}")
    required = [*inputs, "loss"]
    missing = [c for c in required if c not in runs.columns]
    if missing:
        found = ", ".join(map(str, runs.columns)) or "no columns"
        raise DataError(
            f"{where} is missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))} "
            f"(found: {found}). Rename the columns, e.g. runs.rename(columns={{'params': 'n_params'}})."
        )
    columns = {c: _positive_column(runs, c, where) for c in required}
    weight = np.ones(len(runs))
    if "weight" in runs.columns:
        weight = _numeric(runs, "weight", where)
        bad = ~np.isfinite(weight) | (weight < 0)
        if bad.any():
            rows = describe_rows(list(runs.index[bad]))
            raise DataError(
                f"{where}: column 'weight' has {bad.sum()} negative or non-finite values ({rows})"
            )
    if "model" in runs.columns:
        keys = pd.factorize(runs["model"])[0]
    elif "n_params" in columns:
        keys = np.unique(columns["n_params"], return_inverse=True)[1]
    else:
        keys = np.zeros(len(runs), dtype=np.int64)
    n_models = int(np.unique(keys).size)
    return Problem({c: columns[c] for c in inputs}, columns["loss"], weight, n_models, keys)


def _numeric(runs: pd.DataFrame, column: str, where: str) -> np.ndarray:
    series = runs[column]
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "fiu":  # numbers already: nothing to parse
        return series.to_numpy(dtype=float)
    values = pd.to_numeric(series, errors="coerce")
    text = values.isna() & series.notna()
    if text.any():
        rows = describe_rows(list(runs.index[text.to_numpy()]))
        example = series[text].iloc[0]
        raise DataError(
            f"{where}: column {column!r} has {text.sum()} non-numeric values ({rows}, e.g. {example!r})"
        )
    return values.to_numpy(dtype=float, na_value=np.nan)


def _positive_column(runs: pd.DataFrame, column: str, where: str) -> np.ndarray:
    values = _numeric(runs, column, where)
    finite = np.isfinite(values)
    for bad, rule in ((~finite, "missing or non-finite"), (finite & (values <= 0), "<= 0")):
        if bad.any():
            rows = describe_rows(list(runs.index[bad]))
            raise DataError(
                f"{where}: column {column!r} has {bad.sum()} value{'s' if bad.sum() > 1 else ''} {rule} "
                f"({rows}); "
                f"{column} must be a positive number"
            )
    return values
