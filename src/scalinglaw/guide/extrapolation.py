"""How wrong the guide's point estimate is on the collection, by how far it extrapolates in size.

For every usable family of the collection and every window of k = 2 ... 6 consecutive sizes below its
largest model (the paper's Fig. 1c design, all of each run's checkpoints), the guide's defaults are fitted
on the window and the largest model's last 30 % is predicted; the absolute relative error (ARE) is binned
by the scale-up factor N_target / N_largest_fitted. Borrowed parameters leave out the scored family's
group. The table is precomputed (a minute) into :mod:`scalinglaw.guide._collection_errors` by
``python scripts/make_collection_errors.py`` and read by :func:`collection_error`; a test regenerates a
subset and compares.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import numpy as np
import pandas as pd

import scalinglaw as sl
from scalinglaw.guide import _fitmodes as fm
from scalinglaw.guide import borrow
from scalinglaw.guide import defaults as D

__all__ = ["BINS", "collection_error", "scale_up_errors", "summarize"]

#: Scale-up bins (lower edges; the last is open): 1-2x, 2-4x, ..., >= 128x.
BINS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
#: Window sizes (numbers of consecutive model sizes fitted).
WINDOW_SIZES = (2, 3, 4, 5, 6)


def scale_up_errors(
    families: list[str] | None = None, *, sources: str | os.PathLike[str] | None = None
) -> pd.DataFrame:
    """One row per (family, window): family, n_sizes, scale_up, are (fraction), mode.

    Parameters
    ----------
    families
        Families to score (default: every usable family of the collection).
    sources
        Local mirror of the collection's upstream files.
    """
    rows: list[dict[str, Any]] = []
    for name, nats in borrow.scored_families(families, sources=sources):
        runs = sl.load_family(name, sources=sources)
        prior = (
            borrow.collection_prior(exclude=[borrow.family_group(name)], sources=sources) if nats else None
        )
        sizes = np.sort(runs["n_params"].unique())
        target_rows = (runs["n_params"] == sizes[-1]).to_numpy()
        final = runs.groupby("model")["n_tokens"].transform("max").to_numpy()
        window = target_rows & (runs["n_tokens"].to_numpy() >= (1 - D.TARGET_FRACTION) * final)
        train = runs[~target_rows].reset_index(drop=True)
        cand = np.sort(train["n_params"].unique())
        Nw = runs.loc[window, "n_params"].to_numpy()
        Dw = runs.loc[window, "n_tokens"].to_numpy()
        Lw = runs.loc[window, "loss"].to_numpy()
        for k in WINDOW_SIZES:
            for i in range(len(cand) - k + 1):
                chosen = cand[i : i + k]
                sub = train[train["n_params"].isin(chosen)].reset_index(drop=True)
                cut = fm.early_cut(sub, D.EARLY_CUT, D.EARLY_CUT_TOKENS, D.EARLY_CUT_FRACTION)
                sub = sub[cut].reset_index(drop=True)
                if len(sub) < 3:
                    continue
                mode = fm.mode_for(k, borrow=prior is not None, min_free=D.MIN_SIZES_FREE)
                data = None
                if sub["n_tokens"].nunique() < D.MIN_TOKEN_VALUES:
                    if prior is None:
                        continue
                    data = {"B": prior.data_pair[0], "beta": prior.data_pair[1]}
                fit = fm.point_fit(
                    sub,
                    mode,
                    objective=D.OBJECTIVE,
                    line=prior.line if prior else None,
                    pair=prior.pair if prior else None,
                    data=data,
                )
                if fit.status != "ok":
                    continue
                are = float(np.mean(np.abs(fit.predict(Nw, Dw) - Lw) / Lw))
                rows.append(
                    {
                        "family": name,
                        "n_sizes": k,
                        "scale_up": float(sizes[-1] / chosen[-1]),
                        "are": are,
                        "mode": mode,
                    }
                )
    return pd.DataFrame(rows, columns=["family", "n_sizes", "scale_up", "are", "mode"])


def summarize(errors: pd.DataFrame) -> pd.DataFrame:
    """Per scale-up bin: lower edge, upper edge, fits, families, median / 90th-percentile ARE (fractions)."""
    edges = [*BINS, math.inf]
    out = []
    for lo, hi in itertools.pairwise(edges):
        sel = errors[(errors["scale_up"] >= lo) & (errors["scale_up"] < hi)]
        out.append(
            {
                "low": lo,
                "high": hi,
                "fits": len(sel),
                "families": int(sel["family"].nunique()),
                "median_are": float(sel["are"].median()) if len(sel) else math.nan,
                "p90_are": float(sel["are"].quantile(0.9)) if len(sel) else math.nan,
            }
        )
    return pd.DataFrame(out)


def collection_error(scale_up: float) -> dict[str, float]:
    """The collection's held-out ARE at this scale-up factor (the row of its bin; fractions).

    >>> row = collection_error(3.0)
    >>> row["low"], row["high"]
    (2.0, 4.0)
    """
    from scalinglaw.guide._collection_errors import TABLE

    s = max(float(scale_up), 1.0)
    for row in TABLE:
        if row["low"] <= s < row["high"]:
            return dict(row)
    return dict(TABLE[-1])
