"""Heatmaps of a results table as the paper draws them: 100 x ARE per cell, stars, iso-FLOP contours."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError
from scalinglaw.plots import _common, _draw
from scalinglaw.plots._stars import STAR_THRESHOLDS, star_cells

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["HeatmapDisplay"]


@dataclass
class HeatmapDisplay:
    """A heatmap of one family's (or one aggregate's) results: rows x columns of law errors.

    Build it with :meth:`from_results`, draw it with :meth:`plot` (scikit-learn's Display pattern:
    the class method computes, ``plot`` draws and keeps the artists).

    Attributes
    ----------
    values
        Shape (rows, cols): the mean of ``value`` over the cell's successful laws, NaN where there is
        none (failed or empty cell).
    flops
        Shape (rows, cols): median compute of the cell's laws (NaN for empty cells).
    status
        Shape (rows, cols), str: ``"ok"`` when the cell has a successful law, else the status of its
        failures (``"failed"``, ``"too_few_points"``, ``"no_data"``), ``""`` for an empty cell.
    row_values, col_values
        The row and column keys, ascending (first row at the top).
    row_ticks, col_ticks
        Their tick labels.
    row_label, col_label
        Axis titles.
    value
        The results column shown (``"are"`` by default).
    title
        Default title (family and experiment).
    cells
        Tidy table of the present cells: row and column keys, value, flops, status, ``n_fits`` (rows of
        the results table in the cell) and ``n_ok``.
    n_unplaced
        Rows of the selection left out because they have no row or column key: laws without
        training data (status ``no_data``: no largest model, zero models). Their cells stay blank.
    ax_, figure_, im_, colorbar_
        After :meth:`plot`: the axes, figure, image and colour bar.
    text_
        After :meth:`plot`: shape (rows, cols) array of the annotation Text of each cell (None if none).
    failed_
        After :meth:`plot`: the hatched patches of cells without a law.
    stars_
        After :meth:`plot`: threshold -> (row, col) of its star, or None (see :func:`star_cells`).
    contours_
        After :meth:`plot`: threshold -> (Line2D, per-row last column in budget).
    """

    values: np.ndarray
    flops: np.ndarray
    status: np.ndarray
    row_values: list[Any]
    col_values: list[Any]
    row_ticks: list[str]
    col_ticks: list[str]
    row_label: str = ""
    col_label: str = ""
    value: str = "are"
    title: str = ""
    cells: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    n_unplaced: int = 0

    @classmethod
    def from_results(
        cls,
        results: pd.DataFrame,
        *,
        rows: str | None = None,
        cols: str | None = None,
        family: str | None = None,
        experiment: str | None = None,
        value: str = "are",
        row_label: str | None = None,
        col_label: str | None = None,
    ) -> HeatmapDisplay:
        """Pivot one family's laws of one experiment into a grid of cells.

        Parameters
        ----------
        results
            A results table (one row per law; see :mod:`scalinglaw.plots`) or an aggregate from
            :func:`aggregate`. Needs the ``rows``, ``cols`` and ``value`` columns; ``status`` and
            ``flops`` are used when present (without ``status`` a law succeeded when its value is
            finite). A column ``<rows>_label`` (or ``<cols>_label``) gives the tick texts.
        rows, cols
            Columns giving the heatmap's rows and columns. Default: the paper's axes for the
            experiment (:data:`EXPERIMENT_AXES`), e.g. ``n_models`` x ``percentage``.
        family, experiment
            Keep only these rows. The selection must hold a single family and experiment (aggregate
            several families with :func:`aggregate` first).
        value
            The column shown; ``"are"`` (cells show 100 x ARE) or e.g. ``"signed_re"``.
        row_label, col_label
            Axis titles; default from the column names (e.g. "#Train models").

        Several laws in one cell (e.g. two windows with the same largest model) are averaged over
        the successful ones; their compute is the median. Laws without training data (status
        ``no_data``) have ``n_models`` 0: they are placed by the number of models in their ``models``
        column; those still without a key (``largest_train_params`` NaN) are left out and counted in
        :attr:`n_unplaced`.

        Raises
        ------
        DataError
            A missing column, an empty selection (naming the values present), several families or
            experiments left, or a successful law without a row/column key.
        """
        frame = _common.require_frame(results, "results")
        what = "results"
        if experiment is not None:
            frame = _common.select(frame, "experiment", experiment, what)
        if family is not None:
            frame = _common.select(frame, "family", family, what)
        if frame.empty:
            raise DataError("results is empty: there is nothing to draw")
        for col, name in (("experiment", "experiments"), ("family", "families")):
            if col in frame.columns and frame[col].nunique() > 1:
                present = sorted(map(str, frame[col].unique()))
                hint = (
                    "pass family=..., or aggregate them first with scalinglaw.plots.aggregate(...)"
                    if col == "family"
                    else "pass experiment=..."
                )
                raise DataError(f"results holds {len(present)} {name} ({', '.join(present)}); {hint}")
        if rows is None or cols is None:
            exp = str(frame["experiment"].iloc[0]) if "experiment" in frame.columns else None
            if exp not in _common.EXPERIMENT_AXES:
                raise DataError(
                    f"no default heatmap axes for experiment {exp!r}; pass rows=... and cols=... "
                    f"(defaults exist for: {', '.join(_common.EXPERIMENT_AXES)})"
                )
            rows = rows or _common.EXPERIMENT_AXES[exp][0]
            cols = cols or _common.EXPERIMENT_AXES[exp][1]
        _common.require_columns(frame, [rows, cols, value], what)
        # a law without training data (status "no_data") has no data-derived keys: no largest model
        # (NaN), no models (n_models 0). Its n_models is the number of models it asked for (the
        # ``models`` column) so the cell shows "no data"; a row still without keys is left out and
        # counted in n_unplaced
        if "n_models" in (rows, cols) and "models" in frame.columns:
            asked = frame["models"].fillna("").astype(str).map(lambda m: len([x for x in m.split(",") if x]))
            none = frame["n_models"].isna() | (frame["n_models"] == 0)
            if none.any():
                frame = frame.assign(n_models=frame["n_models"].where(~none, asked))
        unplaced = np.zeros(len(frame), dtype=bool)
        for key in (rows, cols):
            unplaced |= frame[key].isna().to_numpy() | ((frame[key] == 0).to_numpy() & (key == "n_models"))
        status_col = frame["status"] if "status" in frame.columns else pd.Series("", index=frame.index)
        bad = unplaced & (status_col == "ok").to_numpy()
        if bad.any():
            raise DataError(
                f"results: {int(bad.sum())} successful laws have no value in column {rows!r} or {cols!r} "
                f"(first: row {frame.index[bad][0]!r}); fill the column"
            )
        n_unplaced = int(unplaced.sum())
        frame = frame[~unplaced]
        if frame.empty:
            raise DataError(
                f"results: none of the {n_unplaced} selected laws can be placed on {rows!r} x {cols!r} "
                f"(statuses: {dict(status_col.value_counts())})"
            )
        ok = np.isfinite(pd.to_numeric(frame[value], errors="coerce").to_numpy(dtype=float))
        if "status" in frame.columns:
            ok &= (frame["status"] == "ok").to_numpy()
        work = pd.DataFrame(
            {
                "row": frame[rows].to_numpy(),
                "col": frame[cols].to_numpy(),
                "value": np.where(ok, pd.to_numeric(frame[value], errors="coerce"), np.nan),
                "flops": pd.to_numeric(frame["flops"], errors="coerce") if "flops" in frame else np.nan,
                "status": np.where(ok, "ok", frame.get("status", "failed")),
                "ok": ok,
            }
        )
        row_values = _common.sort_values(work["row"])
        col_values = _common.sort_values(work["col"])
        r_index = {v: i for i, v in enumerate(row_values)}
        c_index = {v: i for i, v in enumerate(col_values)}
        shape = (len(row_values), len(col_values))
        values = np.full(shape, np.nan)
        flops = np.full(shape, np.nan)
        status = np.full(shape, "", dtype=object)
        records = []
        for (rv, cv), g in work.groupby(["row", "col"], sort=False):
            r, c = r_index[rv], c_index[cv]
            good = g[g["ok"]]
            values[r, c] = good["value"].mean() if len(good) else np.nan
            flops[r, c] = g["flops"].median() if g["flops"].notna().any() else np.nan
            status[r, c] = "ok" if len(good) else str(g["status"].mode().iloc[0])
            records.append((r, c, rv, cv, values[r, c], flops[r, c], status[r, c], len(g), len(good)))
        columns = ["_r", "_c", rows, cols, value, "flops", "status", "n_fits", "n_ok"]
        cells = pd.DataFrame(records, columns=columns).sort_values(["_r", "_c"]).drop(columns=["_r", "_c"])
        target = None
        if "target_params" in frame.columns and frame["target_params"].nunique() == 1:
            target = float(frame["target_params"].iloc[0])
        row_ticks = _ticks(frame, rows, row_values, target)
        col_ticks = _ticks(frame, cols, col_values, target)
        title_bits = [str(frame[c].iloc[0]) for c in ("family", "experiment") if c in frame.columns]
        return cls(
            values=values,
            flops=flops,
            status=status,
            row_values=row_values,
            col_values=col_values,
            row_ticks=row_ticks,
            col_ticks=col_ticks,
            row_label=row_label if row_label is not None else _common.axis_title(rows, frame),
            col_label=col_label if col_label is not None else _common.axis_title(cols, frame),
            value=value,
            title=" · ".join(title_bits),
            cells=cells.reset_index(drop=True),
            n_unplaced=n_unplaced,
        )

    # -- drawing ---------------------------------------------------------------------------------
    @property
    def scale(self) -> float:
        """Factor from the value column to what the cells show: 100 for relative errors (percent)."""
        return 100.0 if self.value in ("are", "signed_re") else 1.0

    def stars(self, thresholds: Sequence[float] = STAR_THRESHOLDS) -> dict[float, tuple[int, int] | None]:
        """Where the stars go for these ARE thresholds (fractions); see :func:`star_cells`."""
        if np.isnan(self.flops[self.status != ""]).all():
            raise DataError(
                "stars and iso-FLOP contours need a 'flops' column in the results; pass stars=False"
            )
        return star_cells(self.values, self.flops, thresholds)

    def plot(
        self,
        ax: Axes | None = None,
        *,
        stars: bool | Sequence[float] = True,
        contour: bool = True,
        annotate: bool = True,
        vmax: float = 35.0,
        title: str | None = None,
        cmap: str | None = None,
        colorbar: bool = True,
        legend: bool = True,
    ) -> HeatmapDisplay:
        """Draw the heatmap.

        Parameters
        ----------
        ax
            Axes to draw on; a new figure sized to the grid when None.
        stars
            Mark the cheapest reliable cell for ARE < 15 %, 10 %, 5 % (:func:`star_cells`), or pass
            the thresholds (fractions). Only for ``value="are"``; ignored otherwise.
        contour
            Draw the orange iso-FLOP step line of each star (:func:`iso_flop_steps`): to its left, every
            cell needs no more compute than the starred one.
        annotate
            Write each cell's value (2 decimals) in a colour readable on the cell.
        vmax
            Top of the colour range, in displayed units (percent for ARE): 35 as in the paper; larger
            values saturate. Signed errors use the symmetric range -vmax..vmax.
        title
            Axes title; default :attr:`title`, ``""`` for none.
        cmap
            Colormap; default ``"magma_r"`` (light = accurate, dark = bad), ``"RdBu_r"`` for signed
            errors.
        colorbar, legend
            Draw the colour bar and the legend (stars, contours, cells without a law).

        Cells without a law (failed fit, too few points, no data) are hatched grey and say why;
        empty cells (no such configuration) stay blank.
        """
        import matplotlib.pyplot as plt
        from matplotlib import colors

        n_rows, n_cols = self.values.shape
        own_figure = ax is None
        if ax is None:
            _, ax = plt.subplots(figsize=(2.6 + 0.8 * n_cols, 2.0 + 0.42 * n_rows), layout="constrained")
        fig = ax.figure
        signed = self.value == "signed_re"
        norm = colors.Normalize(vmin=-vmax if signed else 0.0, vmax=vmax)
        cmap_obj = plt.get_cmap(cmap or ("RdBu_r" if signed else "magma_r"))
        shown = self.values * self.scale
        ax.set_facecolor("white")
        im = ax.imshow(
            np.ma.masked_invalid(shown), cmap=cmap_obj, norm=norm, aspect="auto", interpolation="nearest"
        )
        ax.set_xlim(-0.5, n_cols - 0.5)
        ax.set_ylim(n_rows - 0.5, -0.5)
        texts, failed = _draw.cells(ax, shown, self.status, cmap_obj, norm, annotate)
        ax.set_xticks(range(n_cols), self.col_ticks, rotation=45 if max(map(len, self.col_ticks)) > 5 else 0)
        ax.set_yticks(range(n_rows), self.row_ticks)
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_xlabel(self.col_label)
        ax.set_ylabel(self.row_label)
        shown_title = self.title if title is None else title
        if shown_title:
            ax.set_title(shown_title)

        handles: list[Any] = []
        starred: dict[float, tuple[int, int] | None] = {}
        contours: dict[float, Any] = {}
        if stars is not False and self.value == "are":
            starred = self.stars(STAR_THRESHOLDS if stars is True else tuple(stars))
            contours = _draw.marks(ax, starred, self.flops if contour else None, handles)
        notes = _draw.notes(bool(failed), self.n_unplaced)
        handles += notes
        cbar = None
        if colorbar:
            over = np.nanmax(shown) > vmax if np.isfinite(shown).any() else False
            cbar = fig.colorbar(im, ax=ax, extend="max" if over else "neither", pad=0.02)
            cbar.set_label(("signed RE" if signed else "ARE") + (" (%)" if self.scale == 100 else ""))
        if legend and handles:
            # one column per threshold (its star above its contour), then the notes
            ncol = len(starred) + len(notes) if contour and starred else len(handles)
            if own_figure:
                fig.legend(handles=handles, loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)
            else:
                legend_at = {"loc": "upper center", "bbox_to_anchor": (0.5, -0.22)}
                ax.legend(handles=handles, ncol=ncol, fontsize=7, frameon=False, **legend_at)
        self.ax_, self.figure_, self.im_, self.colorbar_ = ax, fig, im, cbar
        self.text_, self.failed_, self.stars_, self.contours_ = texts, failed, starred, contours
        return self


def _ticks(frame: pd.DataFrame, column: str, keys: list[Any], target: float | None) -> list[str]:
    label_col = f"{column}_label"
    if label_col in frame.columns:
        labels = frame.groupby(column, sort=False)[label_col].first().to_dict()
        return [str(labels[k]) for k in keys]
    return [_common.tick_text(column, k, target) for k in keys]
