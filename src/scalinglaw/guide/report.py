"""Rendering the guide's results for people: plain text, rich tables, and a plot.

Nothing here computes: every number comes from an :class:`~scalinglaw.guide.estimate.Estimate`,
:class:`~scalinglaw.guide.decide.Comparison`, :class:`~scalinglaw.guide.decide.Allocation` or
:class:`~scalinglaw.guide.calibration.Calibration`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.markup import escape

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from scalinglaw.guide.calibration import Calibration
    from scalinglaw.guide.decide import Allocation, Comparison
    from scalinglaw.guide.estimate import Estimate

__all__ = [
    "plot_estimate",
    "render_allocation",
    "render_calibration",
    "render_comparison",
    "render_estimate",
    "save_plot",
    "summary_text",
]


def num(x: float) -> str:
    """Compact number: 1.3B, 125M, 2.1T."""
    if not np.isfinite(x):
        return str(x)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{suffix}"
    return f"{x:.3g}"


def _interval_text(pred: dict[str, Any]) -> str:
    return ", ".join(
        f"{100 * float(k):g} %: [{lo:.4f}, {hi:.4f}]" for k, (lo, hi) in pred["intervals"].items()
    )


def summary_text(est: Estimate) -> str:
    """A plain-text report of an estimate."""
    p = est.fit.params
    lines = [
        f"Law       L = {p['E']:.4g} + {p['A']:.4g} / N^{p['alpha']:.4g} + {p['B']:.4g} / D^{p['beta']:.4g}",
        f"Mode      {est.mode}: {est.settings['fit_mode']['why']}",
        f"Runs      {len(est.models)} runs, {est.models['n_params'].nunique()} sizes "
        f"({num(est.models['n_params'].min())}-{num(est.models['n_params'].max())}), "
        f"{int(est.models['used'].sum())} of {int(est.models['checkpoints'].sum())} checkpoints used",
    ]
    if est.target is not None:
        pred = est.prediction(*est.target)
        lines.append(
            f"Predict   L({num(pred['n_params'])} params, {num(pred['n_tokens'])} tokens) = "
            f"{pred['loss']:.4f} nats; " + _interval_text(pred)
        )
    if est.borrowed:
        lines.append(
            "Borrowed  " + "; ".join(est.borrowed["what"]) + f" (from {', '.join(est.borrowed['from'])})"
        )
    for d in est.diagnostics:
        lines.append(f"{d.severity.capitalize():<9} [{d.code}] {d.message}")
    return "\n".join(lines)


def prediction_table(pred: dict[str, Any], title: str) -> Any:
    """A rich table of one prediction (:meth:`Estimate.prediction`): point, scale-up and intervals."""
    from rich.table import Table

    t = Table(title=title)
    for col in (
        "params",
        "tokens",
        "scale-up",
        "loss",
        *[f"{100 * float(k):g} % interval" for k in pred["intervals"]],
    ):
        t.add_column(col, justify="right")
    t.add_row(
        num(pred["n_params"]),
        num(pred["n_tokens"]),
        f"{pred['scale_up']:.3g}x",
        f"{pred['loss']:.4f}",
        *[f"{lo:.4f} - {hi:.4f}" for lo, hi in pred["intervals"].values()],
    )
    return t


def render_estimate(est: Estimate, console: Console) -> None:
    """Rich tables: the runs, the law, the prediction, the settings and the diagnostics."""
    from rich.table import Table

    runs = Table(title=f"Runs ({est.source})")
    for col in ("run", "params", "checkpoints", "used", "tokens", "final loss", "law at final"):
        runs.add_column(col, justify="left" if col == "run" else "right")
    for r in est.models.itertuples(index=False):
        runs.add_row(
            str(r.model),
            num(r.n_params),
            str(r.checkpoints),
            str(r.used),
            f"{num(r.min_tokens)}-{num(r.max_tokens)}",
            f"{r.final_loss:.4f}",
            f"{r.fitted_final:.4f}",
        )
    console.print(runs)
    law = Table(title=f"Law ({est.mode} fit)")
    for col in ("E", "A", "alpha", "B", "beta"):
        law.add_column(col, justify="right")
    fixed = est.fit.law.fixed
    law.add_row(
        *[
            f"{est.fit.params[c]:.4g}" + (" (borrowed)" if c in fixed else "")
            for c in ("E", "A", "alpha", "B", "beta")
        ]
    )
    console.print(law)
    if est.target is not None:
        console.print(prediction_table(est.prediction(*est.target), "Prediction (nats)"))
    s = Table(title="Settings (each overridable)")
    for col in ("setting", "value", "why"):
        s.add_column(col)
    for name, v in est.settings.items():
        s.add_row(name, str(v["value"]), str(v["why"]))
    console.print(s)
    if est.borrowed:
        console.print(
            f"[bold]Borrowed[/]: {'; '.join(est.borrowed['what'])} (from {', '.join(est.borrowed['from'])})"
        )
    for d in est.diagnostics:
        style = "yellow" if d.severity == "warning" else "dim"
        console.print(
            f"[{style}]{d.severity} {escape(f'[{d.code}]')}[/] {escape(d.message)}", highlight=False
        )


def render_comparison(c: Comparison, console: Console) -> None:
    """Rich table: both predictions, the relative difference with intervals and P(A better)."""
    from rich.table import Table

    t = Table(title=f"Which is better at {num(c.n_params)} params, {num(c.n_tokens)} tokens?")
    for col in ("family", "predicted loss"):
        t.add_column(col)
    t.add_row(f"A: {c.names[0]}", f"{c.loss_a:.4f}")
    t.add_row(f"B: {c.names[1]}", f"{c.loss_b:.4f}")
    console.print(t)
    ivs = "; ".join(
        f"{100 * float(k):g} %: [{100 * lo:+.2f} %, {100 * hi:+.2f} %]" for k, (lo, hi) in c.intervals.items()
    )
    console.print(
        f"[bold]{c.better}[/] is better: L_A / L_B - 1 = {100 * c.ratio:+.2f} % ({ivs}); "
        f"P(A better) = {c.p_a_better:.3f}; {'paired' if c.paired else 'independent'} resampling",
        highlight=False,
    )
    for name, est in zip(c.names, (c.a, c.b), strict=True):
        for d in est.diagnostics:
            if d.severity == "warning":
                console.print(
                    f"[yellow]{escape(f'{name}: [{d.code}]')}[/] {escape(d.message)}", highlight=False
                )


def render_allocation(a: Allocation, console: Console) -> None:
    """Rich table: N*, D*, loss, with intervals."""
    from rich.table import Table

    t = Table(title=f"Compute-optimal allocation for {a.flops:.3g} FLOPs (C = 6 N D)")
    t.add_column("")
    t.add_column("optimum", justify="right")
    for k in a.intervals:
        t.add_column(f"{100 * float(k):g} % interval", justify="right")
    for key, label, fmt in (
        ("n_params", "params N*", num),
        ("n_tokens", "tokens D*", num),
        ("loss", "loss", "{:.4f}".format),
    ):
        value = getattr(a, key)
        cells = [fmt(value)]
        for d in a.intervals.values():
            lo, hi = d.get(key, (float("nan"), float("nan")))
            cells.append(f"{fmt(lo)} - {fmt(hi)}")
        t.add_row(label, *cells)
    console.print(t)
    console.print(
        f"{a.n_tokens / a.n_params:.3g} tokens per parameter; "
        f"N*, D* intervals from {a.draws_used} bootstrap refits"
    )


def render_calibration(cal: Calibration, console: Console) -> None:
    """Rich table of the calibration."""
    from rich.table import Table

    t = Table(title="Coverage of the guide's intervals on the collection (held-out largest size)")
    cols = [
        "family",
        "sizes",
        "mode",
        "scale-up",
        *[f"cover {100 * lv:g} %" for lv in cal.levels],
        "ARE",
        "ARE paper",
    ]
    for c in cols:
        t.add_column(c, justify="left" if c in ("family", "mode") else "right")
    for r in cal.families.itertuples(index=False):
        t.add_row(
            r.family,
            str(r.n_sizes),
            r.mode,
            f"{r.scale_up:.3g}x",
            *[f"{100 * getattr(r, f'coverage_{100 * lv:g}'):.0f}" for lv in cal.levels],
            f"{100 * r.are:.2f} %",
            "failed" if np.isnan(r.are_paper) else f"{100 * r.are_paper:.2f} %",
        )
    console.print(t)
    o = cal.overall()
    console.print(
        "mean over families: "
        + ", ".join(
            f"{100 * o[f'coverage_{100 * lv:g}_families']:.1f} % at {100 * lv:g} %" for lv in cal.levels
        )
        + "; leave-one-group-out: "
        + ", ".join(f"{100 * cal.logo[f'coverage_{100 * lv:g}']:.1f} %" for lv in cal.levels)
        + f"; closest shape: inflation {cal.chosen[0]:g}, df {cal.chosen[1]:g}"
    )


# --------------------------------------------------------------------------------------------- plot


def plot_estimate(est: Estimate, ax: Any = None) -> Any:
    """Loss against tokens: each run's checkpoints (dropped ones grey), the law per size, the target.

    The target's predicted curve is drawn up to its tokens with the 80 % and 95 % bands (or the estimate's
    levels). Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(7.5, 5))
    else:
        fig = ax.figure
    sizes = np.sort(est.models["n_params"].unique())
    cmap = plt.get_cmap("viridis")
    colour = {s: cmap(0.85 * i / max(len(sizes) - 1, 1)) for i, s in enumerate(sizes)}
    data = est.data
    for s in sizes:
        runs = est.models[est.models["n_params"] == s]
        lo_t, hi_t = float(runs["min_tokens"].min()), float(runs["max_tokens"].max())
        grid = np.geomspace(lo_t, hi_t, 100)
        ax.plot(grid, est.predict(s, grid), color=colour[s], lw=1.4, label=f"{num(s)} (law)")
        if data is not None:
            d = data[data["n_params"] == s]
            used = d["used"].to_numpy()
            ax.scatter(d["n_tokens"][used], d["loss"][used], s=9, color=colour[s], alpha=0.8, lw=0)
            ax.scatter(d["n_tokens"][~used], d["loss"][~used], s=9, color="0.75", lw=0)
    if data is not None and (~data["used"]).any():
        ax.scatter([], [], s=9, color="0.75", label="dropped (early cut)")
    ylo, yhi = [], []
    if data is not None and data["used"].any():
        used_loss = data.loc[data["used"], "loss"].to_numpy()
        ylo.append(float(used_loss.min()))
        yhi.append(float(np.percentile(used_loss, 98)))
    if est.target is not None:
        N, T = est.target
        start = float(min(est.models["min_tokens"].min(), T / 100))
        grid = np.geomspace(start, T, 120)
        ax.plot(grid, est.predict(N, grid), color="crimson", lw=1.6, label=f"target {num(N)} (predicted)")
        # The band is drawn over the last decade of the target's tokens: further back the target curve is
        # an extrapolation nobody asked for, and its band would swamp the figure.
        near = grid[grid >= T / 10]
        levels = sorted((float(k) for k in est.prediction(N, T)["intervals"]), reverse=True)
        for lev, alpha in zip(levels, (0.15, 0.3), strict=False):
            lo, hi = est.predict_interval(N, near, level=lev)
            ax.fill_between(
                near, lo, hi, color="crimson", alpha=alpha, lw=0, label=f"{100 * lev:g} % interval"
            )
        lo, hi = est.predict_interval(N, T, level=levels[0])
        p = float(est.predict(N, T))
        ax.errorbar([T], [p], yerr=[[p - float(lo)], [float(hi) - p]], fmt="o", color="crimson", capsize=3)
        ylo.append(float(lo))
        yhi.append(min(float(hi), 2 * p))
    if ylo:
        ax.set_ylim(0.95 * min(ylo), 1.05 * max(yhi))
    ax.set_xscale("log")
    ax.set_xlabel("tokens")
    ax.set_ylabel("loss (nats)")
    ax.set_title(f"{est.source}: {est.mode} fit")
    ax.legend(fontsize=7, loc="upper right")
    return fig


def save_plot(fig: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG to ``path`` (folders created) and close it."""
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    plt.close(fig)
    return out
