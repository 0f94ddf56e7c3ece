"""Drawing pieces of the heatmap: cell texts, failure hatching, stars, iso-FLOP lines, legend notes."""

from __future__ import annotations

from typing import Any

import numpy as np

from scalinglaw.plots._stars import iso_flop_steps, step_path

#: What a cell without a law says, by status.
FAILED_TEXT = {"failed": "fail", "too_few_points": "few pts", "no_data": "no data"}
#: Marker style of each starred threshold, by position (loosest first).
STAR_STYLE = (
    {"markersize": 10, "markerfacecolor": "white"},
    {"markersize": 13, "markerfacecolor": "#41b6e6"},
    {"markersize": 16, "markerfacecolor": "#00a651"},
)
CONTOUR_STYLE = ({"linestyle": ":"}, {"linestyle": "--"}, {"linestyle": "-"})
ORANGE = "#ff8c00"
_FAILED_PATCH = {"facecolor": "0.86", "edgecolor": "0.55", "hatch": "///"}


def cells(
    ax: Any, shown: np.ndarray, status: np.ndarray, cmap: Any, norm: Any, annotate: bool
) -> tuple[np.ndarray, list[Any]]:
    """Annotate the cells with a law; hatch and label the cells without one. Empty cells stay blank."""
    from matplotlib.patches import Rectangle

    n_rows, n_cols = shown.shape
    fontsize = 9 if n_cols <= 8 else 8 if n_cols <= 11 else 6
    centre = {"ha": "center", "va": "center"}
    texts = np.full((n_rows, n_cols), None, dtype=object)
    failed = []
    for r in range(n_rows):
        for c in range(n_cols):
            st = status[r, c]
            if st == "ok" and annotate:
                rgb = cmap(norm(shown[r, c]))[:3]
                light = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2] > 0.45  # relative luminance
                colour = "black" if light else "white"
                texts[r, c] = ax.text(c, r, cell_text(shown[r, c]), fontsize=fontsize, color=colour, **centre)
            elif st not in ("ok", ""):
                patch = Rectangle((c - 0.5, r - 0.5), 1, 1, lw=0, **_FAILED_PATCH)
                ax.add_patch(patch)
                failed.append(patch)
                box = {"facecolor": "0.86", "edgecolor": "none", "pad": 0.5}
                label = FAILED_TEXT.get(st, st)
                texts[r, c] = ax.text(c, r, label, fontsize=fontsize - 1, color="0.15", bbox=box, **centre)
    return texts, failed


def marks(
    ax: Any, starred: dict[float, tuple[int, int] | None], flops: np.ndarray | None, handles: list[Any]
) -> dict[float, Any]:
    """Draw each threshold's star (and, given ``flops``, its iso-FLOP line); append legend handles."""
    from matplotlib import patheffects
    from matplotlib.lines import Line2D

    contours: dict[float, Any] = {}
    per_cell: dict[tuple[int, int], int] = {}
    stroke = [patheffects.withStroke(linewidth=3.6, foreground="0.15")]
    for i, (t, cell) in enumerate(starred.items()):
        style = STAR_STYLE[min(i, len(STAR_STYLE) - 1)]
        label = f"cheapest ARE < {100 * t:g}%"
        if cell is None:
            none = {"markerfacecolor": "none", "markeredgecolor": "0.5", "markersize": style["markersize"]}
            handles.append(Line2D([], [], linestyle="none", marker="*", label=f"{label}: none", **none))
            if flops is not None:
                handles.append(Line2D([], [], linestyle="none", label=" "))  # keeps one column per threshold
            continue
        r, c = cell
        k = per_cell.get(cell, 0)  # several stars in one cell sit side by side in its top-right corner
        per_cell[cell] = k + 1
        edge = {"markeredgecolor": "black", "markeredgewidth": 0.6}
        (mark,) = ax.plot(
            c + 0.36 - 0.27 * k, r - 0.3, ls="none", marker="*", label=label, zorder=5, **edge, **style
        )
        handles.append(mark)
        if flops is not None:
            steps = iso_flop_steps(flops, flops[r, c])
            xs, ys = step_path(steps, flops.shape[1])
            line_style = CONTOUR_STYLE[min(i, len(CONTOUR_STYLE) - 1)]
            (line,) = ax.plot(xs, ys, color=ORANGE, lw=2.2, zorder=4, label="its iso-FLOP line",
                              path_effects=stroke, solid_capstyle="butt", **line_style)  # fmt: skip
            contours[t] = (line, steps)
            handles.append(line)
    return contours


def notes(any_failed: bool, n_unplaced: int) -> list[Any]:
    """Legend entries for cells without a law and for laws that could not be placed."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out: list[Any] = []
    if any_failed:
        out.append(Patch(label="no law (see cell)", **_FAILED_PATCH))
    if n_unplaced:
        label = f"{n_unplaced} law{'s' if n_unplaced > 1 else ''} without training data not placed"
        out.append(Line2D([], [], linestyle="none", label=label))
    return out


def cell_text(v: float) -> str:
    """A cell's annotation: 2 decimals (3 significant digits from 1000 on)."""
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.3g}"
