"""Fig. 3: fitted parameters differ between families, along two lines (ln A-alpha, ln B-beta)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from scalinglaw.plots import _common

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["parameter_scatter"]


def parameter_scatter(
    params: pd.DataFrame,
    *,
    hue: str | None = "arch",
    axes: Sequence[Axes] | None = None,
    annotate: bool = False,
) -> Figure:
    """Three panels of per-family law parameters, as the paper's Fig. 3.

    (a) alpha against ln A, (b) beta against ln B, each with its least-squares line (slope and
    intercept in the legend: the paper found alpha ~ 0.0116 + 0.0500 ln A and
    beta ~ 0.237 + 0.0384 ln B), and (c) E of each family, sorted (nats).

    Parameters
    ----------
    params
        One row per family: ``family``, ``E``, ``A``, ``alpha``, ``B``, ``beta`` (and the ``hue``
        column), e.g. from :func:`family_parameters`. Rows with a non-finite parameter or A, B <= 0
        cannot be placed on the log axes and are left out; the figure's title counts them.
    hue
        Column colouring the points (architecture by default); None for one colour.
    axes
        Three axes to draw on; a new 1 x 3 figure when None.
    annotate
        Write each family's name beside its point in panels (a) and (b).

    Returns
    -------
    Figure
    """
    import matplotlib.pyplot as plt

    frame = _common.require_frame(params, "params")
    need = ["family", "E", "A", "alpha", "B", "beta"] + ([hue] if hue else [])
    _common.require_columns(frame, need, "params", "pass one row per family (see family_parameters)")
    values = frame[["E", "A", "alpha", "B", "beta"]].apply(pd.to_numeric, errors="coerce")
    usable = np.isfinite(values.to_numpy(dtype=float)).all(axis=1) & (values["A"] > 0) & (values["B"] > 0)
    frame = frame[usable.to_numpy()].assign(**{c: values.loc[usable, c] for c in values.columns})
    left_out = int((~usable).sum())
    if axes is None:
        width = max(13.0, 9.0 + 0.18 * len(frame))
        fig, axes = plt.subplots(1, 3, figsize=(width, 4.4), layout="constrained")
    else:
        axes = list(axes)
        if len(axes) != 3:
            raise ValueError(f"axes must be three Axes (one per panel), got {len(axes)}")
        fig = axes[0].figure
    groups = sorted(map(str, frame[hue].unique())) if hue else [""]
    palette = plt.get_cmap("tab10")
    colour = {g: palette(i % 10) for i, g in enumerate(groups)}
    keys = frame[hue].astype(str) if hue else pd.Series("", index=frame.index)

    panels = (
        (axes[0], "A", "alpha", r"$\ln A$", r"$\alpha$"),
        (axes[1], "B", "beta", r"$\ln B$", r"$\beta$"),
    )
    for ax, scale, expo, xlabel, ylabel in panels:
        x = np.log(frame[scale].to_numpy(dtype=float))
        y = frame[expo].to_numpy(dtype=float)
        for g in groups:
            m = (keys == g).to_numpy()
            ax.scatter(
                x[m], y[m], color=colour[g], label=g or None, s=28, edgecolor="white", lw=0.5, zorder=3
            )
        if annotate:
            for xi, yi, name in zip(x, y, frame["family"], strict=True):
                ax.annotate(str(name), (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points")
        if len(x) >= 2 and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            grid = np.linspace(x.min(), x.max(), 50)
            sign = "+" if intercept >= 0 else "-"
            ax.plot(grid, slope * grid + intercept, color="0.3", lw=1.2, zorder=2,
                    label=f"{ylabel} = {slope:.4f} {xlabel} {sign} {abs(intercept):.4f}")  # fmt: skip
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, title=hue if hue else None, title_fontsize=7)

    ax = axes[2]
    order = frame.sort_values("E")
    pos = np.arange(len(order))
    okeys = order[hue].astype(str) if hue else pd.Series("", index=order.index)
    ax.scatter(pos, order["E"], c=[colour[k] for k in okeys], s=28, zorder=3)
    ax.set_xticks(pos, order["family"].astype(str), rotation=90, fontsize=7)
    ax.set_ylabel("E (nats)")
    ax.set_xlabel("family (sorted by E)")
    ax.grid(alpha=0.3, axis="y")
    title = f"Fitted parameters of {len(frame)} families"
    if left_out:
        title += f" ({left_out} without a usable law left out)"
    fig.suptitle(title)
    return fig
