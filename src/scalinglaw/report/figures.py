"""Which figures ``reproduce`` draws: the paper's, for the families the paper shows them for."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

#: (file stem, experiment, families) of each per-family heatmap, as in the paper (v1 numbering).
HEATMAPS = (
    ("fig1a-size-windows", "size_windows", ("gpt3", "pythia")),
    ("fig1b-num-models", "num_models", ("gpt3", "pythia", "opt")),
    ("fig1c-num-to-size", "num_to_size", ("gpt3", "pythia")),
    ("fig4-final-fraction", "final_fraction", ("opt", "gpt3", "pythia")),
    ("fig5b-no-cut", "num_models_no_cut", ("opt", "pythia")),
    ("fig6-one-model", "one_model", ("opt", "gpt2-c4-1", "olmo", "pythia-deduped-v0", "pythia-v0",
                                     "pythia-deduped", "pythia", "t5-pile")),
    ("fig6-one-model-borrowed", "one_model_borrowed", ("opt", "olmo", "pythia", "t5-pile")),
    ("fig8-scale-down", "scale_down", ("opt", "pythia-deduped-v0", "pythia-v0", "pythia-deduped", "pythia",
                                       "t5-pile")),
)  # fmt: skip
#: Fig. 7: target curves with the laws fitted on every model at these fractions of training.
CURVE_FAMILIES = ("gpt3", "pythia", "t5-pile", "opt", "gpt2-c4-1")
CURVE_PERCENTAGES = (0.2, 0.5, 1.0)


def draw(
    results: pd.DataFrame,
    out: Path,
    *,
    paper_families: list[str],
    arch: Mapping[str, str],
    runs: Mapping[str, Any],
    progress: Callable[[str], None] | None = None,
) -> list[Path]:
    """Draw every figure whose data is in ``results`` into ``out``; returns the files written."""
    from scalinglaw import plots

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    present = set(zip(results["experiment"], results["family"], strict=True))
    for stem, experiment, families in HEATMAPS:
        for family in families:
            if (experiment, family) not in present:
                continue
            if progress:
                progress(f"figure {stem} {family}")
            display = plots.HeatmapDisplay.from_results(results, experiment=experiment, family=family)
            written += plots.save(display.plot(title=f"{family}: {experiment}"), out / f"{stem}-{family}")
    for experiment in ("num_models", "num_models_no_cut"):
        sel = results[(results["experiment"] == experiment) & results["family"].isin(paper_families)]
        if sel.empty:
            continue
        agg = plots.aggregate(sel, experiment=experiment)
        title = f"families the paper fitted, macro-average: {experiment}"
        written += plots.save(
            plots.HeatmapDisplay.from_results(agg).plot(title=title), out / f"aggregate-{experiment}"
        )
    params = results[results["experiment"] == "parameters"]
    if not params.empty:
        table = plots.family_parameters(params, experiment="parameters", arch=dict(arch))
        written += plots.save(plots.parameter_scatter(table), out / "fig3-parameters")
    num = results[(results["experiment"] == "num_models") & (results["status"] == "ok")]
    for family in CURVE_FAMILIES:
        sel = num[num["family"] == family]
        if sel.empty or family not in runs:
            continue
        k = sel["models"].str.count(",")
        full = sel[k == k.max()]
        laws = {
            f"fit on {p:.0%} of training": full[full["percentage"] == p].iloc[0]
            for p in CURVE_PERCENTAGES
            if (full["percentage"] == p).any()
        }
        written += plots.save(plots.curves(runs[family].table, laws), out / f"fig7-curves-{family}")
    return written
