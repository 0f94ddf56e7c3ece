"""Shared pieces of the plots: input checks, tick and axis labels, saving."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError

#: Heatmap axes (rows, columns) of each experiment of the results table, as the paper draws them.
EXPERIMENT_AXES: dict[str, tuple[str, str]] = {
    "num_models": ("n_models", "percentage"),  # Fig. 1b, 5a
    "num_models_no_cut": ("n_models", "percentage"),  # Fig. 5b
    "scale_down": ("n_models", "percentage"),  # Fig. 8
    "baseline_best": ("n_models", "percentage"),  # §5.2
    "baseline_most_trained": ("n_models", "percentage"),  # §5.2
    "size_windows": ("largest_train_params", "percentage"),  # Fig. 1a
    "num_to_size": ("n_models", "largest_train_params"),  # Fig. 1c
    "final_fraction": ("n_models", "start"),  # Fig. 4
    "one_model": ("largest_train_params", "percentage"),  # Fig. 6
    "one_model_borrowed": ("largest_train_params", "percentage"),  # Fig. 6
}

#: Axis titles of the columns the heatmaps use.
AXIS_TITLES: dict[str, str] = {
    "n_models": "#Train models",
    "percentage": "Fraction of training used",
    "largest_train_params": "Largest training model (scale-up)",
    "smallest_train_params": "Smallest training model",
    "start": "Fraction of the used trajectory dropped from the start",
    "cut": "Tokens cut from the start",
    "target_params": "Target model",
    "scale_up": "Scale-up (target / largest training model)",
}

#: Columns whose values are fractions, shown as percentages on the ticks.
_FRACTION_COLUMNS = {"percentage", "start"}


def axis_title(column: str, frame: pd.DataFrame) -> str:
    """Axis title of a heatmap axis: single-model experiments (Fig. 6) fit on one model, not a largest one."""
    single = (
        "experiment" in frame.columns and frame["experiment"].astype(str).str.startswith("one_model").all()
    )
    if column == "largest_train_params" and single:
        return "Training model (scale-up)"
    return AXIS_TITLES.get(column, column)


def require_frame(obj: Any, what: str) -> pd.DataFrame:
    if not isinstance(obj, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(obj).__name__}")
    return obj


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str, hint: str = "") -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        s = "s" if len(missing) > 1 else ""
        raise DataError(
            f"{what} is missing column{s} {', '.join(map(repr, missing))} "
            f"(found: {', '.join(map(str, frame.columns))})" + (f"; {hint}" if hint else "")
        )


def select(frame: pd.DataFrame, column: str, value: Any, what: str) -> pd.DataFrame:
    """Rows of ``frame`` with ``column == value``; a clear error when there are none."""
    require_columns(frame, [column], what, f"it cannot be filtered by {column}={value!r}")
    out = frame[frame[column] == value]
    if out.empty:
        known = sorted(map(str, frame[column].dropna().unique()))
        raise DataError(
            f"{what} has no rows with {column}={value!r}; {column} values present: "
            + (", ".join(known) if known else "none (the table is empty)")
        )
    return out


def size_text(n: float) -> str:
    """A parameter or token count as people write it: 70M, 1.3B, 175B, 2.1T."""
    if not np.isfinite(n):
        return "?"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{suffix}"
    return f"{n:.3g}"


def scale_text(scale: float) -> str:
    """A scale-up factor as a tick label: x64, x5.8, x0.25.

    Truncated from 10 on, as the paper labels them (175B / 2.7B = 64.8 gives x64); two significant
    digits below 10.
    """
    return f"×{int(scale)}" if scale >= 10 else f"×{scale:.2g}"


def tick_text(column: str, value: Any, target_params: float | None = None) -> str:
    """Tick label of one row or column value of a heatmap."""
    if isinstance(value, str):
        return value
    v = float(value)
    if column in _FRACTION_COLUMNS:
        return f"{100 * v:.3g}%"
    if column.endswith("_params"):
        text = size_text(v)
        if column == "largest_train_params" and target_params is not None and np.isfinite(target_params):
            if np.isclose(v, target_params, rtol=1e-9):
                return f"{text} (target)"
            return f"{text} ({scale_text(target_params / v)})"
        return text
    if column == "cut":
        return size_text(v)
    if column == "n_models" or float(v).is_integer():
        return f"{v:.0f}"
    return f"{v:.3g}"


def sort_values(values: Sequence[Any]) -> list[Any]:
    """Unique values in ascending order (numbers numerically, anything else as text)."""
    uniq = pd.unique(pd.Series(list(values)))
    try:
        return sorted(uniq, key=float)
    except (TypeError, ValueError):
        return sorted(uniq, key=str)


def save(fig: Any, path_stem: str | Path, *, dpi: int = 150) -> list[Path]:
    """Write ``<stem>.png`` (``dpi`` dots per inch) and ``<stem>.pdf``, then close the figure.

    Parameters
    ----------
    fig
        A matplotlib Figure, or a display with a ``figure_`` attribute (e.g. a plotted
        :class:`HeatmapDisplay`).
    path_stem
        Path without suffix; a ``.png`` or ``.pdf`` suffix is dropped. Parent folders are created.

    Returns
    -------
    list of Path
        The two files written.
    """
    import matplotlib.pyplot as plt

    figure = getattr(fig, "figure_", fig)
    if not hasattr(figure, "savefig"):
        raise TypeError(
            f"save needs a matplotlib Figure or a plotted display, got {type(fig).__name__}"
            + (" (call .plot() first)" if hasattr(fig, "plot") else "")
        )
    stem = Path(path_stem)
    if stem.suffix.lower() in {".png", ".pdf"}:
        stem = stem.with_suffix("")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".pdf")]
    figure.savefig(paths[0], dpi=dpi, bbox_inches="tight")
    figure.savefig(paths[1], bbox_inches="tight")
    plt.close(figure)
    return paths
