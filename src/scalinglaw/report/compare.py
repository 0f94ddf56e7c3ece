"""Our results beside the paper's reference tables, cell by cell."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalinglaw.report import reference as ref

#: Two cells "agree" when their 100 x ARE differ by at most this (the issue's bar for GPT-3).
AGREEMENT = 2.0


@dataclass(frozen=True)
class Comparison:
    """One reference table: our cells, the paper's, and how far apart they are."""

    title: str
    ours: pd.DataFrame  #: 100 x ARE, NaN where we have no successful law
    paper: pd.DataFrame  #: 100 x ARE, NaN where the paper's figure is empty
    note: str = ""

    @property
    def diff(self) -> pd.DataFrame:
        return self.ours - self.paper

    @property
    def n_cells(self) -> int:
        return int(self.paper.notna().to_numpy().sum())

    @property
    def n_agree(self) -> int:
        return int((self.diff.abs() <= AGREEMENT).to_numpy().sum())

    def summary(self) -> str:
        d = self.diff.abs().to_numpy()
        d = d[np.isfinite(d)]
        median = f"{np.median(d):.2f}" if d.size else "n/a"
        share = f"{self.n_agree}/{self.n_cells} ({100 * self.n_agree / max(self.n_cells, 1):.0f} %)"
        return f"within {AGREEMENT:g} points: {share}; median |difference| {median} points"

    def markdown(self) -> str:
        """One grid, each cell "ours (paper)"; cells more than 2 points apart in bold."""
        cols = list(self.paper.columns)
        head = "| | " + " | ".join(_label(c) for c in cols) + " |"
        lines = [head, "|" + "---|" * (len(cols) + 1)]
        for row in self.paper.index:
            cells = []
            for c in cols:
                o = self.ours.at[row, c] if row in self.ours.index and c in self.ours.columns else np.nan
                p = self.paper.at[row, c]
                if np.isnan(p) and np.isnan(o):
                    cells.append("")
                    continue
                text = f"{_num(o)} ({_num(p)})"
                far = np.isfinite(o) and np.isfinite(p) and abs(o - p) > AGREEMENT
                cells.append(f"**{text}**" if far else text)
            lines.append(f"| {_label(row)} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _num(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.2f}"


def _label(x: object) -> str:
    if isinstance(x, float) and x >= 1e6:
        return f"{x / 1e9:g}B"
    return str(x)


def _paper_grid(table: Mapping, columns: Sequence = ref.PERCENT_COLUMNS) -> pd.DataFrame:
    data = {k: [np.nan if v is None else v for v in row] for k, row in table.items()}
    return pd.DataFrame.from_dict(data, orient="index", columns=list(columns))


def _k(results: pd.DataFrame) -> pd.Series:
    """Number of models each law asked for (the paper's row label; some may lack data after the cut)."""
    return results["models"].str.count(",") + 1


def grid(
    results: pd.DataFrame, experiment: str, family: str, rows: str, cols: str = "percentage"
) -> pd.DataFrame:
    """100 x ARE of one family's experiment, ``rows`` x ``cols`` (failed cells NaN; several laws: mean)."""
    sel = results[(results["experiment"] == experiment) & (results["family"] == family)].copy()
    if sel.empty:
        return pd.DataFrame()
    sel["k"] = _k(sel)
    sel["value"] = np.where(sel["status"] == "ok", 100 * sel["are"], np.nan)
    return sel.pivot_table(index=rows, columns=cols, values="value", aggfunc="mean", dropna=False)


def _aligned(
    ours: pd.DataFrame, paper: pd.DataFrame, rows: Callable | None = None, cols: Callable | None = None
) -> pd.DataFrame:
    """``ours`` on the paper's grid; ``rows``/``cols`` map our labels to the paper's (e.g. sizes)."""
    if ours.empty:
        return pd.DataFrame(np.nan, index=paper.index, columns=paper.columns)
    ours = ours.copy()
    ours.columns = [cols(c) if cols else round(float(c), 2) for c in ours.columns]
    if rows is not None:
        ours.index = [rows(i) for i in ours.index]
    ours = ours.T.groupby(level=0).mean().T.groupby(level=0).mean()
    return ours.reindex(index=paper.index, columns=paper.columns)


def num_models(
    results: pd.DataFrame, family: str, table: Mapping, title: str, experiment: str = "num_models"
) -> Comparison:
    paper = _paper_grid(table)
    return Comparison(title, _aligned(grid(results, experiment, family, "k"), paper), paper)


def aggregate(
    agg: pd.DataFrame, table: Mapping, title: str, columns: Sequence = ref.PERCENT_COLUMNS
) -> Comparison:
    """An aggregate cell table (from :func:`scalinglaw.plots.aggregate`) against a binned reference."""
    paper = _paper_grid(table, columns)
    ours = agg.assign(value=np.where(agg["status"] == "ok", 100 * agg["are"], np.nan))
    ours = ours.pivot_table(index="n_models_label", columns="percentage", values="value", aggfunc="mean")
    ours.columns = [round(float(c), 2) for c in ours.columns]
    return Comparison(title, ours.reindex(index=paper.index, columns=paper.columns), paper)


def num_to_size(results: pd.DataFrame, family: str, table: Mapping, title: str) -> Comparison:
    sizes = sorted({s for _, s in table})
    paper = pd.DataFrame(np.nan, index=sorted({k for k, _ in table}), columns=sizes)
    for (k, size), v in table.items():
        paper.at[k, size] = v
    ours = grid(results, "num_to_size", family, "k", "largest_train_params")
    return Comparison(title, _aligned(ours, paper, cols=lambda c: _nearest(c, sizes)), paper)


def _nearest(x: float, sizes: Sequence[float]) -> float:
    """The reference size within 10 % of ``x`` (collections differ in how they round sizes)."""
    for s in sizes:
        if abs(x / s - 1) <= 0.1:
            return s
    return x


def one_model(results: pd.DataFrame, family: str, table: Mapping, title: str) -> Comparison:
    paper = _paper_grid(table)
    ours = grid(results, "one_model", family, "largest_train_params")
    return Comparison(title, _aligned(ours, paper, rows=lambda s: _nearest(s, list(table))), paper)
