"""Cross-family heatmaps: the paper's macro average over families (§4.4; its code's ``aggregate_hist``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError
from scalinglaw.plots import _common

__all__ = ["EXCLUDE", "MODEL_BINS", "aggregate", "aggregate_by_arch", "family_parameters"]

#: Rows of the aggregate heatmaps: 2, 3, ..., 7 training models on their own, then "8+".
MODEL_BINS = (2, 3, 4, 5, 6, 7)
#: Families left out of the aggregates (names containing these, case-insensitive): the Pythia
#: intervention, 5-shot and v0 variants, which would count Pythia several times over.
EXCLUDE = ("interv", "5shot", "v0")


def aggregate(
    results: pd.DataFrame,
    *,
    experiment: str,
    rows: str = "n_models",
    cols: str = "percentage",
    bins: Sequence[float] | None = MODEL_BINS,
    top_label: str = "8+",
    exclude: Sequence[str] = EXCLUDE,
    fill: bool = True,
    value: str = "are",
    label: str = "all",
) -> pd.DataFrame:
    """Macro-average one experiment's heatmap cells over families, as the paper's aggregate figures.

    Steps, in order:

    1. keep the rows of ``experiment``; drop families whose name contains any ``exclude`` substring
       (case-insensitive);
    2. bin the ``rows`` values: each value in ``bins`` is its own row, a value between two bins goes
       to the lower one, values above the last bin form one row labelled ``top_label`` ("8+"), and
       values below the first bin are dropped (counted in ``attrs["dropped_rows"]``);
    3. per (family, row bin, column): the mean ``value`` of the family's successful laws (status
       ``ok``, finite value);
    4. with ``fill`` (the paper's ``fill_nas``), a family's cell that was run but has no successful law
       is imputed from the same family's row: linearly between the nearest columns with a value on
       each side (one gap = the mean of its two neighbours); before the first value, the first value;
       after the last value it stays missing, as in the paper. Imputed values enter the average like
       measured ones; each output cell counts them in ``n_imputed`` and ``attrs["n_imputed"]`` gives
       the total. (The paper's code fills the same way, except that it never interpolates from the
       first column.) Without ``fill``, such cells are left out of the average;
    5. per (row bin, column): the mean over families (a macro average: a family with many laws in
       a bin does not outweigh one with few).

    Compute (``flops``) cannot be averaged across families whose budgets differ by orders of
    magnitude, so each family's compute is first divided by the largest compute of its laws in the
    experiment; a cell's ``flops`` is the median over the family's laws, then over families: the
    typical share of a family's full budget the cell's laws use. Stars and iso-FLOP contours of
    an aggregate compare these shares.

    Parameters
    ----------
    results
        A results table (``experiment``, ``family``, ``rows``, ``cols``, ``value``; ``status`` and
        ``flops`` when present).
    experiment
        The experiment to aggregate, e.g. ``"num_models"``.
    rows, cols
        Heatmap rows (binned) and columns (kept as they are).
    bins
        Row values shown on their own (see step 2); None to keep every row value.
    top_label
        Label of the row above the last bin.
    exclude
        Substrings of family names to leave out.
    fill
        Impute failed cells within each family row before averaging (step 4).
    value
        The column averaged.
    label
        Written in the output's ``family`` column.

    Returns
    -------
    DataFrame
        One row per (row bin, column): ``experiment``, ``family`` (= ``label``), ``rows`` (the bin's
        value; the top bin is the last bin + 1), ``<rows>_label`` (tick text, e.g. "8+"), ``cols``,
        ``value``, ``flops``, ``status`` ("ok", or "failed" when no family has a value),
        ``message``, ``n_families`` (families averaged), ``n_imputed``, ``families``. It draws with
        ``HeatmapDisplay.from_results(table)``. ``attrs`` holds ``n_imputed``, ``excluded`` (family
        names) and ``dropped_rows``.

    Raises
    ------
    DataError
        A missing column, or no rows left for the experiment after the exclusions.
    """
    frame = _prepare(results, experiment, rows, cols, value, exclude)
    groups = pd.Series(label, index=frame["family"].unique())
    return _aggregate(frame, groups, experiment, rows, cols, bins, top_label, fill, value)


def aggregate_by_arch(
    results: pd.DataFrame,
    arch: Mapping[str, str] | pd.DataFrame,
    *,
    experiment: str,
    rows: str = "n_models",
    cols: str = "percentage",
    bins: Sequence[float] | None = MODEL_BINS,
    top_label: str = "8+",
    exclude: Sequence[str] = EXCLUDE,
    fill: bool = True,
    value: str = "are",
) -> pd.DataFrame:
    """:func:`aggregate` per architecture type: the paper's per-type heatmaps.

    ``arch`` maps each family to its type (``{"gpt3": "dec", "t5-pile": "enc-dec"}``), or is a table
    with ``family`` and ``arch`` columns. The output stacks one aggregate per type, the type in the
    ``family`` column: draw one with ``HeatmapDisplay.from_results(table, family="dec")``.

    Raises
    ------
    DataError
        A family of the results with no type in ``arch`` (all are named), or as :func:`aggregate`.
    """
    if isinstance(arch, pd.DataFrame):
        _common.require_columns(arch, ["family", "arch"], "arch")
        arch = dict(zip(arch["family"], arch["arch"], strict=True))
    frame = _prepare(results, experiment, rows, cols, value, exclude)
    families = frame["family"].unique()
    unknown = [f for f in families if f not in arch]
    if unknown:
        raise DataError(
            f"arch has no type for {len(unknown)} families of the results: {', '.join(map(str, unknown))}; "
            "add them to the mapping or filter the results"
        )
    groups = pd.Series({f: str(arch[f]) for f in families})
    return _aggregate(frame, groups, experiment, rows, cols, bins, top_label, fill, value)


def family_parameters(
    results: pd.DataFrame,
    *,
    experiment: str = "num_models",
    arch: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One fitted law per family, the paper's choice for Fig. 3 and its PCA (§9).

    For each family, among the successful laws of ``experiment``: those with the most training models,
    then of these the one with the largest ``percentage``.

    Returns
    -------
    DataFrame
        ``family``, ``arch`` (from ``arch``, else "unknown"; kept from the results when they have
        one), ``n_models``, ``percentage``, ``E``, ``A``, ``alpha``, ``B``, ``beta``: the input of
        :func:`parameter_scatter`.
    """
    frame = _common.select(_common.require_frame(results, "results"), "experiment", experiment, "results")
    need = ["family", "n_models", "percentage", "E", "A", "alpha", "B", "beta"]
    _common.require_columns(frame, need, "results")
    ok = np.isfinite(frame[["E", "A", "alpha", "B", "beta"]].to_numpy(dtype=float)).all(axis=1)
    if "status" in frame.columns:
        ok &= (frame["status"] == "ok").to_numpy()
    frame = frame[ok]
    if frame.empty:
        raise DataError(f"results has no successful law for experiment {experiment!r}")
    best = frame.sort_values(["family", "n_models", "percentage"]).groupby("family", sort=True).tail(1)
    out = best[need + (["arch"] if "arch" in best.columns else [])].reset_index(drop=True)
    if "arch" not in out.columns:
        out.insert(1, "arch", [(arch or {}).get(f, "unknown") for f in out["family"]])
    return out


# -- internals -----------------------------------------------------------------------------------
def _prepare(
    results: Any, experiment: str, rows: str, cols: str, value: str, exclude: Sequence[str]
) -> pd.DataFrame:
    frame = _common.require_frame(results, "results")
    _common.require_columns(frame, ["experiment", "family", rows, cols, value], "results")
    frame = _common.select(frame, "experiment", experiment, "results")
    names = frame["family"].astype(str).str.lower()
    dropped = np.zeros(len(frame), dtype=bool)
    for sub in exclude:
        dropped |= names.str.contains(sub.lower(), regex=False).to_numpy()
    excluded = sorted(frame.loc[dropped, "family"].astype(str).unique())
    frame = frame[~dropped].copy()
    if frame.empty:
        raise DataError(
            f"results: every family of experiment {experiment!r} is excluded by {tuple(exclude)} "
            f"({', '.join(excluded)}); pass exclude=()"
        )
    frame.attrs = {"excluded": excluded}
    return frame


def _aggregate(
    frame: pd.DataFrame,
    groups: pd.Series,
    experiment: str,
    rows: str,
    cols: str,
    bins: Sequence[float] | None,
    top_label: str,
    fill: bool,
    value: str,
) -> pd.DataFrame:
    excluded = frame.attrs.get("excluded", [])
    vals = pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(vals)
    if "status" in frame.columns:
        ok &= (frame["status"] == "ok").to_numpy()
    flops = pd.to_numeric(frame["flops"], errors="coerce") if "flops" in frame.columns else None
    if flops is not None:
        flops = flops / flops.groupby(frame["family"]).transform("max")
    work = pd.DataFrame(
        {
            "family": frame["family"].to_numpy(),
            "row": pd.to_numeric(frame[rows], errors="coerce").to_numpy(dtype=float),
            "col": frame[cols].to_numpy(),
            "value": np.where(ok, vals, np.nan),
            "flops": np.nan if flops is None else flops.to_numpy(dtype=float),
        }
    )
    labels: dict[float, str] = {}
    dropped_rows = 0
    if bins is not None:
        edges = np.sort(np.asarray(bins, dtype=float))
        top = edges[-1] + 1
        low = work["row"] < edges[0]
        dropped_rows = int(low.sum() + work["row"].isna().sum())
        work = work[~low & work["row"].notna()].copy()
        idx = np.searchsorted(edges, work["row"].to_numpy(), side="right") - 1
        work["row"] = np.where(work["row"] > edges[-1], top, edges[idx])
        labels = {float(e): _common.tick_text(rows, e) for e in edges} | {float(top): top_label}
    else:
        labels = {float(v): _common.tick_text(rows, v) for v in work["row"].unique()}
    per_family = (
        work.groupby(["family", "row", "col"], sort=True)
        .agg(value=("value", "mean"), flops=("flops", "median"))
        .reset_index()
    )
    per_family["imputed"] = False
    if fill:
        col_order = {v: i for i, v in enumerate(_common.sort_values(per_family["col"]))}
        per_family["pos"] = per_family["col"].map(col_order)
        per_family = per_family.sort_values(["family", "row", "pos"]).reset_index(drop=True)
        filled = per_family["value"].to_numpy(copy=True)
        for idx in per_family.groupby(["family", "row"], sort=False).indices.values():
            filled[idx] = _fill_row(per_family["pos"].to_numpy(dtype=float)[idx], filled[idx])
        per_family["imputed"] = per_family["value"].isna().to_numpy() & np.isfinite(filled)
        per_family["value"] = filled
        per_family = per_family.drop(columns="pos")
    per_family["group"] = per_family["family"].map(groups)
    records = []
    for (group, row, col), g in per_family.groupby(["group", "row", "col"], sort=True):
        have = g[g["value"].notna()]
        n_imp = int(have["imputed"].sum())
        n = len(have)
        records.append(
            {
                "experiment": experiment,
                "family": group,
                rows: row,
                f"{rows}_label": labels.get(float(row), _common.tick_text(rows, row)),
                cols: col,
                value: have["value"].mean() if n else np.nan,
                "flops": g["flops"].median() if g["flops"].notna().any() else np.nan,
                "status": "ok" if n else "failed",
                "message": (
                    f"mean over {n} families ({n_imp} imputed)" if n else "no family has a law in this cell"
                ),
                "n_families": n,
                "n_imputed": n_imp,
                "families": ",".join(map(str, have["family"])),
            }
        )
    out = pd.DataFrame.from_records(records)
    out.attrs = {
        "n_imputed": int(out["n_imputed"].sum()) if len(out) else 0,
        "excluded": excluded,
        "dropped_rows": dropped_rows,
    }
    return out


def _fill_row(pos: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One family row: interpolate its missing cells linearly by column position (see aggregate)."""
    have = np.isfinite(v)
    if not have.any() or have.all():
        return v
    out = v.copy()
    gaps = ~have & (pos <= pos[have].max())
    out[gaps] = np.interp(pos[gaps], pos[have], v[have])
    return out
