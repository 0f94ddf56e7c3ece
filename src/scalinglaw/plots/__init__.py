"""The paper's figures, drawn from results tables (Choshen et al. 2024, §4.4 and §6).

Everything here reads pandas DataFrames and draws with matplotlib (imported on first use, so
``import scalinglaw`` stays light). Library code never calls ``plt.show()``: :func:`save` writes
PNG and PDF and closes the figure.

The results table has one row per fitted law, failures included: ``experiment``, ``family``,
``target_params``, ``n_models``, ``largest_train_params``, ``percentage``, ``start``, ``flops``
(training compute the law uses), ``are``, ``status`` ("ok", "failed", "too_few_points", "no_data"),
``E``, ``A``, ``alpha``, ``B``, ``beta``, and more.

=============================  ==================================================================
figure                         how
=============================  ==================================================================
Fig. 1b, 5, 8 (per family)     ``HeatmapDisplay.from_results(results, experiment="num_models",
                               family="gpt3").plot()`` (rows ``n_models`` x cols ``percentage``)
Fig. 1a                        ``experiment="size_windows"`` (rows: largest training model)
Fig. 1c                        ``experiment="num_to_size"`` (cols: largest training model, p = 1)
Fig. 4                         ``experiment="final_fraction"`` (cols: ``start``)
Fig. 6                         ``experiment="one_model_borrowed"`` (rows: the single model)
aggregates                     ``HeatmapDisplay.from_results(aggregate(results,
                               experiment="num_models")).plot()``; per type: :func:`aggregate_by_arch`
Fig. 3                         ``parameter_scatter(family_parameters(results, arch=...))``
Fig. 7                         ``curves(runs, {"fit on 20%": fit, ...})``
=============================  ==================================================================

Then ``save(display_or_figure, "figs/fig1b-gpt3")``.
"""

from __future__ import annotations

from scalinglaw.plots._common import AXIS_TITLES, EXPERIMENT_AXES, save
from scalinglaw.plots._stars import CONSISTENCY, STAR_THRESHOLDS, iso_flop_steps, star_cells, step_path
from scalinglaw.plots.aggregate import EXCLUDE, MODEL_BINS, aggregate, aggregate_by_arch, family_parameters
from scalinglaw.plots.curves import curves
from scalinglaw.plots.heatmap import HeatmapDisplay
from scalinglaw.plots.parameters import parameter_scatter

__all__ = [
    "AXIS_TITLES",
    "CONSISTENCY",
    "EXCLUDE",
    "EXPERIMENT_AXES",
    "MODEL_BINS",
    "STAR_THRESHOLDS",
    "HeatmapDisplay",
    "aggregate",
    "aggregate_by_arch",
    "curves",
    "family_parameters",
    "iso_flop_steps",
    "parameter_scatter",
    "save",
    "star_cells",
    "step_path",
]
