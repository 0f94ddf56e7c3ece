"""Turn a runs table into clean arrays, or raise a DataError that says what is wrong and where."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
