"""Every figure on a realistic results table (simulated families through Runs + fit_many), saved to disk."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalinglaw as sl
from scalinglaw import plots, protocol
from scalinglaw.exceptions import DataError

FAMILIES = ("sim-dec", "sim-wide", "sim-encdec", "sim-v0")
EXPERIMENTS = ("num_models", "size_windows", "num_to_size", "final_fraction", "one_model_borrowed")


def _written(paths):
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"
    return True


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_experiment_heatmap_of_every_family(results, experiment, tmp_path):
    for family in FAMILIES:
        d = plots.HeatmapDisplay.from_results(results, experiment=experiment, family=family).plot()
        rows, cols = plots.EXPERIMENT_AXES[experiment]
        sel = results[(results["experiment"] == experiment) & (results["family"] == family)]
        assert d.row_values == sorted(sel[rows].unique()) and d.col_values == sorted(sel[cols].unique())
        # every law is in a cell, and every cell without a successful law is marked
        assert d.cells["n_fits"].sum() == len(sel)
        n_bad = (d.status != "ok") & (d.status != "")
        assert len(d.failed_) == n_bad.sum()
        assert d.stars_ == plots.star_cells(d.values, d.flops)
        assert _written(plots.save(d, tmp_path / f"{experiment}-{family}"))


def test_size_rows_carry_the_scale_up(results):
    d = plots.HeatmapDisplay.from_results(results, experiment="size_windows", family="sim-dec")
    assert d.row_ticks[0] == "400M (×8)"  # windows of 3: the first ends at the third model; target 3.2B
    d = plots.HeatmapDisplay.from_results(results, experiment="one_model_borrowed", family="sim-dec")
    assert d.row_ticks[-1] == "3.2B (target)"


def test_aggregates_of_the_realistic_table(results, arch, tmp_path):
    agg = plots.aggregate(results, experiment="num_models")
    assert agg.attrs["excluded"] == ["sim-v0"]
    # sim-wide (10 models) alone reaches the 8+ row
    assert agg.loc[agg["n_models_label"] == "8+", "families"].unique().tolist() == ["sim-wide"]
    # hand check of one macro-averaged cell: mean over families of each family's mean
    sel = results[
        (results["experiment"] == "num_models")
        & (results["n_models"] == 3)
        & (results["percentage"] == 0.5)
        & (results["status"] == "ok")
        & (results["family"] != "sim-v0")
    ]
    expected = sel.groupby("family")["are"].mean().mean()
    got = agg[(agg["n_models"] == 3) & (agg["percentage"] == 0.5)]["are"].item()
    assert got == pytest.approx(expected)
    d = plots.HeatmapDisplay.from_results(agg).plot()
    assert d.row_ticks[-1] == "8+"
    assert _written(plots.save(d, tmp_path / "agg"))
    by_arch = plots.aggregate_by_arch(results, arch, experiment="num_models")
    assert sorted(by_arch["family"].unique()) == ["dec", "enc-dec"]
    for kind in ("dec", "enc-dec"):
        d = plots.HeatmapDisplay.from_results(by_arch, family=kind).plot()
        assert _written(plots.save(d, tmp_path / f"agg-{kind}"))


def test_parameter_scatter(results, arch, tmp_path):
    params = plots.family_parameters(results, arch=arch)
    assert sorted(params["family"]) == sorted(FAMILIES)
    fig = plots.parameter_scatter(params)
    a, b, c = fig.axes
    assert a.get_xlabel() == r"$\ln A$" and b.get_ylabel() == r"$\beta$"
    # the legend carries the least-squares line of each panel
    x, y = np.log(params["A"]), params["alpha"]
    slope, intercept = np.polyfit(x, y, 1)
    texts = [t.get_text() for t in a.get_legend().get_texts()]
    assert f"{slope:.4f}" in texts[-1] and f"{abs(intercept):.4f}" in texts[-1]
    assert {"dec", "enc-dec"} <= set(texts)
    assert [t.get_text() for t in c.get_xticklabels()] == params.sort_values("E")["family"].tolist()
    assert _written(plots.save(fig, tmp_path / "params"))


def test_parameter_scatter_leaves_out_unusable_rows_and_says_so():
    params = pd.DataFrame(
        {
            "family": ["a", "b", "c"],
            "arch": "dec",
            "E": [1.0, 2.0, 1.5],
            "A": [100.0, 400.0, np.nan],
            "alpha": [0.3, 0.35, 0.3],
            "B": [1000.0, 2000.0, 10.0],
            "beta": [0.3, 0.32, 0.3],
        }
    )
    fig = plots.parameter_scatter(params, hue=None)
    assert "1 without a usable law left out" in fig.texts[0].get_text()
    with pytest.raises(DataError, match="missing column 'arch'"):
        plots.parameter_scatter(params.drop(columns="arch"))


def test_curves_with_fits_and_results_rows(results, runs_of, tmp_path):
    runs = protocol.Runs(runs_of("sim-dec"))
    cands = runs.candidates(runs.target())
    fits = sl.fit_many(runs.table, subsets=[runs.training(cands, percentage=p, cut=0) for p in (0.2, 0.5)])
    sel = results[(results["experiment"] == "num_models") & (results["family"] == "sim-dec")]
    row = sel[sel["status"] == "ok"].iloc[-1]
    failed = sel[sel["status"] != "ok"].iloc[0]
    laws = {"fit on 20% of training": fits[0], "fit on 50% of training": fits[1], "row": row, "bad": failed}
    fig = plots.curves(runs.table, laws, training=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    lines = {line.get_label(): line for line in ax.get_lines()}
    target_tokens = runs.window(runs.target(), 1.0)["n_tokens"]
    for label, law in (("fit on 50% of training", fits[1]), ("row", row)):
        xs, ys = lines[label].get_data()
        assert xs.min() == pytest.approx(target_tokens.min()) and xs.max() == pytest.approx(
            target_tokens.max()
        )
        if label == "row":
            expected = row["E"] + row["A"] / 3.2e9 ** row["alpha"] + row["B"] / xs ** row["beta"]
        else:
            expected = law.predict(n_params=3.2e9, n_tokens=xs)
        np.testing.assert_allclose(ys, expected)
    assert "bad: no law (too_few_points)" in lines
    assert f"{runs.target()} (observed)" in lines
    assert _written(plots.save(fig, tmp_path / "curves"))


def test_curves_bad_input(runs_of):
    runs = runs_of("sim-dec")
    with pytest.raises(DataError, match="runs has no model 'nope'; models: sim-dec-1e"):
        plots.curves(runs, {}, target="nope")
    with pytest.raises(DataError, match="is missing beta"):
        plots.curves(runs, {"x": {"E": 1, "A": 1, "alpha": 1, "B": 1}})
    with pytest.raises(TypeError, match="pass a Fit or a results row"):
        plots.curves(runs, {"x": 3.0})
    with pytest.raises(DataError, match="missing column 'loss'"):
        plots.curves(runs.drop(columns="loss"), {})
