"""Fig. 7: a target model's loss curve and what each law predicted for it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scalinglaw.exceptions import DataError
from scalinglaw.plots import _common
from scalinglaw.protocol import TARGET_FRACTION

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["curves"]

_PARAMS = ("E", "A", "alpha", "B", "beta")


def curves(
    runs: pd.DataFrame,
    fits_by_label: Mapping[str, Any],
    *,
    target: str | None = None,
    training: bool = False,
    window: float = TARGET_FRACTION,
    ax: Axes | None = None,
) -> Figure:
    """Loss against tokens for the target model, overlaid with each law's predicted curve.

    Parameters
    ----------
    runs
        The family's runs: ``model``, ``n_params``, ``n_tokens``, ``loss`` (nats), one row per
        checkpoint.
    fits_by_label
        Legend label -> law: a :class:`scalinglaw.Fit` (anything with ``predict(n_params, n_tokens)``),
        or a row of a results table (a mapping or Series with ``E``, ``A``, ``alpha``, ``B``, ``beta``;
        the Chinchilla form). E.g. ``{"fit on 20% of training": fit}``. A law that failed (status not
        ``ok``, or NaN parameters) is listed in the legend as such, without a curve.
    target
        The model whose curve is shown; default the largest.
    training
        Also draw the other models' curves (thin, grey).
    window
        Shade the target's last ``window`` of training tokens, where ARE is scored (0 for none).
    ax
        Axes to draw on; a new figure when None.

    Returns
    -------
    Figure
        Log-x axes; each law's curve spans the target's token range at the target's size.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    frame = _common.require_frame(runs, "runs")
    _common.require_columns(frame, ["model", "n_params", "n_tokens", "loss"], "runs")
    if frame.empty:
        raise DataError("runs is empty: there is no curve to draw")
    models = frame.groupby("model", sort=False)["n_params"].max().sort_values(kind="stable")
    if target is None:
        target = str(models.index[-1])
    elif target not in models.index:
        raise DataError(f"runs has no model {target!r}; models: {', '.join(map(str, models.index))}")
    mine = frame[frame["model"] == target].sort_values("n_tokens")
    n_params = float(mine["n_params"].iloc[0])
    tokens = mine["n_tokens"].to_numpy(dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.6), layout="constrained")
    fig = ax.figure
    shown = [mine["loss"].to_numpy(dtype=float)]
    if training:
        for i, (_, g) in enumerate(frame[frame["model"] != target].groupby("model", sort=False)):
            g = g.sort_values("n_tokens")
            ax.plot(g["n_tokens"], g["loss"], color="0.65", lw=0.8, alpha=0.8,
                    label="other models" if i == 0 else None)  # fmt: skip
    ax.plot(tokens, mine["loss"], color="black", lw=1.6, marker="o", ms=2.5,
            label=f"{target} (observed)", zorder=4)  # fmt: skip
    if window > 0:
        ax.axvspan((1 - window) * tokens.max(), tokens.max(), color="0.9", zorder=0,
                   label=f"scored: last {100 * window:g}% of tokens")  # fmt: skip
    grid = np.geomspace(tokens[tokens > 0].min(), tokens.max(), 200)
    palette = plt.get_cmap("viridis")
    n = max(len(fits_by_label), 1)
    for i, (label, law) in enumerate(fits_by_label.items()):
        predict, problem = _predictor(law, label)
        if predict is None:
            ax.add_line(Line2D([], [], linestyle="none", label=f"{label}: no law ({problem})"))
            continue
        pred = np.asarray(predict(n_params, grid), dtype=float)
        shown.append(pred[np.isfinite(pred)])
        ax.plot(
            grid, pred, color=palette(i / max(n - 1, 1) * 0.9), lw=1.6, ls="--", label=str(label), zorder=3
        )
    ax.set_xscale("log")
    observed = np.concatenate([shown[0], *([] if not training else [frame["loss"].to_numpy(dtype=float)])])
    lo, hi = np.nanmin(observed), np.nanmax(observed)
    everything = np.concatenate(shown)
    lo = max(min(lo, np.nanmin(everything)), 0.5 * lo)
    hi = min(max(hi, np.nanmax(everything)), 2.0 * hi)
    pad = 0.05 * (hi - lo or abs(hi) or 1.0)
    ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("tokens")
    ax.set_ylabel("loss (nats)")
    ax.set_title(f"{target} ({_common.size_text(n_params)} parameters)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _predictor(law: Any, label: str) -> tuple[Callable[[float, np.ndarray], Any] | None, str]:
    """A function (n_params, tokens) -> loss for one entry of fits_by_label, or None and why not."""
    if hasattr(law, "predict"):
        status = str(getattr(law, "status", "ok"))
        if status != "ok":
            return None, status
        return (lambda n, d: law.predict(n_params=n, n_tokens=d)), ""
    if isinstance(law, Mapping | pd.Series):
        missing = [p for p in _PARAMS if p not in law]
        if missing:
            raise DataError(
                f"fits_by_label[{label!r}] is missing {', '.join(missing)}; pass a Fit or a results row"
            )
        status = str(law.get("status", "ok"))
        p = {k: float(law[k]) for k in _PARAMS}
        if status != "ok" or not all(np.isfinite(list(p.values()))):
            return None, status if status != "ok" else "NaN parameters"
        return (lambda n, d: p["E"] + p["A"] / n ** p["alpha"] + p["B"] / d ** p["beta"]), ""
    raise TypeError(
        f"fits_by_label[{label!r}] is a {type(law).__name__}; "
        "pass a Fit or a results row with E, A, alpha, B, beta"
    )
